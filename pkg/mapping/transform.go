package mapping

import (
	"fmt"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/streams"
)

// Result is what Transform decided: the transformer's rule, also asked by
// the writer whether a record an invoice depends on will ever sync.
type Result struct {
	// Out is the mapped record, nil when the record was excluded.
	Out *record.Transformed
	// Excluded names the rule that kept the record from syncing.
	Excluded string
}

// Transform applies conn's settings to one ingested record from source.
// Pure: everything it needs is in its arguments.
func Transform(conn connection.Connection, object streams.Object, source streams.System, in record.Ingested) (Result, error) {
	settings := conn.Object(object)
	if !settings.Enabled {
		return Result{Excluded: fmt.Sprintf("the %s sync is turned off", object)}, nil
	}
	if !settings.Direction.Moves(source) {
		return Result{Excluded: fmt.Sprintf("the %s sync runs %s only", object, strings.ReplaceAll(string(settings.Direction), "_", " "))}, nil
	}
	target, dir := streams.SystemQBO, connection.HubSpotToQBO
	if source == streams.SystemQBO {
		target, dir = streams.SystemHubSpot, connection.QBOToHubSpot
	}
	if !in.Deleted {
		if r := settings.Filters[dir].Evaluate(in.FilterFields()); !r.Pass {
			return Result{Excluded: "sync filter: " + r.Rule}, nil
		}
	}
	out, err := Record(settings, object, target, in)
	if err != nil {
		return Result{}, err
	}
	if out.Skip != "" {
		return Result{Excluded: out.Skip}, nil
	}
	return Result{Out: out}, nil
}
