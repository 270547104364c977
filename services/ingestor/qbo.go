package ingestor

import (
	"strconv"
	"time"

	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
)

// customerRecord flattens a QBO customer to dotted field paths
// ("PrimaryEmailAddr.Address", "BillAddr.City", "MetaData.LastUpdatedTime").
func customerRecord(c qbo.Customer) (ingested, error) {
	fields, err := record.FlattenValue(c)
	if err != nil {
		return ingested{}, err
	}
	fields["Active"] = strconv.FormatBool(c.IsActive())
	var updated time.Time
	if c.MetaData != nil {
		updated = c.MetaData.LastUpdatedTime
		if !c.MetaData.CreateTime.IsZero() {
			fields["MetaData.CreateTime"] = c.MetaData.CreateTime.Format(time.RFC3339)
		}
		if !updated.IsZero() {
			fields["MetaData.LastUpdatedTime"] = updated.Format(time.RFC3339)
		}
	}
	return ingested{id: c.ID, version: qbo.Version(c.MetaData, c.SyncToken), occurredAt: updated, rec: record.Ingested{Fields: fields}}, nil
}

// deletedCustomer is the record published for a QBO Deleted stub.
func deletedCustomer(id string, at time.Time) ingested {
	return ingested{id: id, version: at, occurredAt: at, rec: record.Ingested{Fields: map[string]string{"Id": id}, Deleted: true}}
}
