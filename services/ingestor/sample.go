package ingestor

import (
	"context"
	"errors"
	"fmt"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/streams"
)

// Sampled is one record read the way the first sync reads it.
type Sampled struct {
	ID  string
	Rec record.Ingested
}

var errEnough = errors.New("sample complete")

// Sample reads up to limit records of one object from one side exactly as
// the first sync would (same properties, same enrichment), for the dry run.
// more reports that the side holds more than limit.
func Sample(ctx context.Context, hs *hubspot.Client, qc *qbo.Client, c connection.Connection, object streams.Object,
	system streams.System, limit int) (out []Sampled, more bool, err error) {
	var r *reader
	for _, x := range readers {
		if x.object == object {
			r = x
		}
	}
	if r == nil {
		return nil, false, fmt.Errorf("no reader for %s", object)
	}
	if system == streams.SystemHubSpot {
		if r.hsType == "" {
			return nil, false, nil // this object is read from QBO only
		}
		after := ""
		for len(out) < limit {
			page, err := hs.List(ctx, r.hsType, hubspot.ListOptions{Limit: min(100, limit-len(out)), After: after, Properties: r.properties(c)})
			if err != nil {
				return nil, false, err
			}
			recs, err := r.hsEnrich(ctx, hs, page.Results)
			if err != nil {
				return nil, false, err
			}
			for _, x := range recs {
				out = append(out, Sampled{ID: x.id, Rec: x.rec})
			}
			if page.After == "" {
				return out, false, nil
			}
			after = page.After
		}
		return out, true, nil
	}
	err = r.qboEach(ctx, qc, func(x ingested) error {
		if len(out) == limit {
			more = true
			return errEnough
		}
		out = append(out, Sampled{ID: x.id, Rec: x.rec})
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return out, more, err
}
