package mapping

import (
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// CodeObjectNotSupported marks objects this version does not map yet.
const CodeObjectNotSupported syncerr.Code = "OBJECT_NOT_SUPPORTED"

// Record maps one side's record for target under settings, with the record
// rules of its object. The transformer maps incoming records with it, and
// the writer maps what it wrote the same way, so the echo of its own write
// hashes exactly like the record it came from (P18).
func Record(settings connection.ObjectSettings, object streams.Object, target streams.System, in record.Ingested) (*record.Transformed, error) {
	switch object {
	case streams.ObjectContact:
		return contact(settings, target, in)
	case streams.ObjectProduct:
		return product(settings, target, in)
	}
	return nil, syncerr.Permanentf(CodeObjectNotSupported, "%s records are not mapped by this version", object)
}

// contact maps a HubSpot contact to a QBO customer or back.
func contact(settings connection.ObjectSettings, target streams.System, in record.Ingested) (*record.Transformed, error) {
	toQBO := target == streams.SystemQBO
	fields, err := Apply(settings.Mappings, in.Fields, toQBO)
	if err != nil {
		return nil, err
	}
	out := &record.Transformed{Target: target, Fields: fields, Deleted: in.Deleted}
	if toQBO {
		out.MatchKey = record.NormalizeEmail(in.Fields["email"])
		company := in.First("company.name")
		if company == "" {
			company = in.Fields["company"]
		}
		fromCompany := settings.Options[connection.OptionDisplayNameFromCompany] != "false"
		name, err := CustomerDisplayName(in.Fields["firstname"], in.Fields["lastname"], company, in.Fields["email"], fromCompany)
		if err != nil && !in.Deleted {
			return nil, err
		}
		if name != "" {
			fields["DisplayName"] = name
		}
	} else {
		out.MatchKey = record.NormalizeEmail(in.Fields["PrimaryEmailAddr.Address"])
	}
	out.Hash = Hash(fields)
	return out, nil
}

// product maps a HubSpot product to a QBO item or back, matched on SKU (P9).
// An inactive QBO item counts as gone for HubSpot: the resolver archives
// its product when the connection says so.
func product(settings connection.ObjectSettings, target streams.System, in record.Ingested) (*record.Transformed, error) {
	toQBO := target == streams.SystemQBO
	fields, err := Apply(settings.Mappings, in.Fields, toQBO)
	if err != nil {
		return nil, err
	}
	out := &record.Transformed{Target: target, Fields: fields, Deleted: in.Deleted}
	if toQBO {
		out.MatchKey = record.NormalizeSKU(in.Fields["hs_sku"])
	} else {
		out.MatchKey = record.NormalizeSKU(in.Fields["Sku"])
		out.Deleted = out.Deleted || in.Fields["Active"] == "false"
	}
	out.Hash = Hash(fields)
	return out, nil
}
