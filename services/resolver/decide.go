// Package resolver is the stage between transformer and writer: it finds or
// makes the record's link (matching a first sight by email, P11), drops
// changes that are not newer than the link, recognises echoes of our own
// writes (P18), applies the conflict winner when both sides changed (P4),
// and decides create, update or skip.
package resolver

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/streams"
)

// Decision is what to do with one transformed record.
type Decision struct {
	Outcome activity.Outcome // success (pass on), skipped or skipped_echo
	Action  string           // create or update when passing on
	Reason  string           // why it was skipped, in words
	// AdoptHash: the record is our own write coming back, recognised by
	// the side's Echo fields; its hash becomes the side's hash.
	AdoptHash bool
}

// Decide is the resolver's rule, pure: the link as it stands, the incoming
// record from source at version.
func Decide(settings connection.ObjectSettings, l links.Link, source streams.System, version int64, tr record.Transformed) Decision {
	return decide(settings, l, source, version, tr, false)
}

// DecideReplayed is Decide for a replayed record (`syncd replay`, an
// operator's backfill): the version last synced passes again when it maps
// differently now, so a replay after a mapping or filter fix re-syncs it;
// an unchanged mapping, an older version or our own echo is still skipped
// (links.Side.ReplayResyncs).
func DecideReplayed(settings connection.ObjectSettings, l links.Link, source streams.System, version int64, tr record.Transformed) Decision {
	return decide(settings, l, source, version, tr, true)
}

func decide(settings connection.ObjectSettings, l links.Link, source streams.System, version int64, tr record.Transformed, replayed bool) Decision {
	side, other := l.Sides[source], l.Sides[links.Other(source)]
	switch {
	case tr.Deleted && settings.Options[connection.OptionArchiveInactive] != "true":
		return Decision{Outcome: activity.OutcomeSkipped, Reason: "deleted at the source: deletions are not synced for this object"}
	case tr.Deleted && other.Archived:
		return Decision{Outcome: activity.OutcomeSkippedEcho, Reason: "already archived on the other side"}
	case tr.Deleted && other.ID == "":
		return Decision{Outcome: activity.OutcomeSkipped, Reason: "archived at the source before it was ever synced"}
	case tr.Deleted && version <= side.Version:
		return Decision{Outcome: activity.OutcomeSkipped, Reason: fmt.Sprintf("not newer than the last sync (version %d <= %d)", version, side.Version)}
	case tr.Deleted:
		return Decision{Outcome: activity.OutcomeSuccess, Action: record.ActionArchive}
	case side.Hash != "" && writtenByUs(side, tr.Fields):
		return Decision{Outcome: activity.OutcomeSkippedEcho, Reason: "our own write coming back: only the fields ledgersync wrote changed", AdoptHash: true}
	case side.Hash != "" && tr.Hash == side.Hash && !side.WrittenAt.IsZero():
		return Decision{Outcome: activity.OutcomeSkippedEcho, Reason: "our own write coming back: nothing mapped changed"}
	case side.Hash != "" && tr.Hash == side.Hash:
		return Decision{Outcome: activity.OutcomeSkipped, Reason: "no mapped field changed since the last sync"}
	case version <= side.Version && !(replayed && side.ReplayResyncs(version, tr.Hash)):
		return Decision{Outcome: activity.OutcomeSkipped, Reason: fmt.Sprintf("not newer than the last sync (version %d <= %d)", version, side.Version)}
	case other.Seen > other.Version && settings.ConflictWinner == links.Other(source):
		return Decision{Outcome: activity.OutcomeSkipped, Reason: fmt.Sprintf("changed on both sides; the connection lets %s win", links.Other(source))}
	case other.ID == "":
		return Decision{Outcome: activity.OutcomeSuccess, Action: record.ActionCreate}
	}
	return Decision{Outcome: activity.OutcomeSuccess, Action: record.ActionUpdate}
}

// writtenByUs reports whether fields differ from the side's last synced
// record by exactly the writes in its Echo list: each holds the value we
// wrote, and with the values from before the writes the hash is the
// side's hash again.
func writtenByUs(side links.Side, fields map[string]string) bool {
	if len(side.Echo) == 0 {
		return false
	}
	before := maps.Clone(fields)
	for f, e := range side.Echo {
		if fields[f] != e.After {
			return false
		}
		before[f] = e.Before
	}
	return mapping.Hash(before) == side.Hash
}

// ParseVersion reads an envelope's source version (Unix milliseconds).
func ParseVersion(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("source version %q is not Unix milliseconds", v)
	}
	return n, nil
}
