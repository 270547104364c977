// Package transformer is the stage between ingestor and resolver: it applies
// the connection's direction, sync filters (P6), field mappings (P5) and the
// record rules (display name P11) to an ingested record, and either passes
// the mapped record on or records it as excluded with the rule that
// excluded it.
package transformer

import (
	"fmt"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// CodeObjectNotSupported marks objects this version does not transform yet.
const CodeObjectNotSupported syncerr.Code = "OBJECT_NOT_SUPPORTED"

// Result is what Transform decided.
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
	switch object {
	case streams.ObjectContact:
		return contact(settings, target, in)
	default:
		return Result{}, syncerr.Permanentf(CodeObjectNotSupported, "%s records are not transformed by this version", object)
	}
}

// contact maps a HubSpot contact to a QBO customer or back.
func contact(settings connection.ObjectSettings, target streams.System, in record.Ingested) (Result, error) {
	toQBO := target == streams.SystemQBO
	fields, err := mapping.Apply(settings.Mappings, in.Fields, toQBO)
	if err != nil {
		return Result{}, err
	}
	out := &record.Transformed{Target: target, Fields: fields, Deleted: in.Deleted}
	if toQBO {
		out.MatchKey = record.NormalizeEmail(in.Fields["email"])
		company := in.First("company.name")
		if company == "" {
			company = in.Fields["company"]
		}
		fromCompany := settings.Options[connection.OptionDisplayNameFromCompany] != "false"
		name, err := mapping.CustomerDisplayName(in.Fields["firstname"], in.Fields["lastname"], company, in.Fields["email"], fromCompany)
		if err != nil && !in.Deleted {
			return Result{}, err
		}
		if name != "" {
			fields["DisplayName"] = name
		}
	} else {
		out.MatchKey = record.NormalizeEmail(in.Fields["PrimaryEmailAddr.Address"])
	}
	out.Hash = mapping.Hash(fields)
	return Result{Out: out}, nil
}
