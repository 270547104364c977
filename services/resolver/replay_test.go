package resolver

import (
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/streams"
)

// TestDecideReplayed: a replay re-syncs the version last synced only when
// it maps differently now, and never an older version or our own echo.
func TestDecideReplayed(t *testing.T) {
	settings := connection.ObjectSettings{ConflictWinner: streams.SystemHubSpot}
	link := func(hs links.Side) links.Link {
		return links.Link{Sides: map[streams.System]links.Side{streams.SystemHubSpot: hs, streams.SystemQBO: {ID: "9", Version: 10, EchoVersion: 10}}}
	}
	fixed := record.Transformed{Hash: "new", Target: streams.SystemQBO}
	written := time.Now()
	cases := []struct {
		name     string
		side     links.Side
		version  int64
		tr       record.Transformed
		live     activity.Outcome // what a live delivery gets
		replayed activity.Outcome
	}{
		{"same version, mapping changed", links.Side{ID: "1", Version: 10, Hash: "old"}, 10, fixed, activity.OutcomeSkipped, activity.OutcomeSuccess},
		{"same version, mapping unchanged", links.Side{ID: "1", Version: 10, Hash: "new"}, 10, fixed, activity.OutcomeSkipped, activity.OutcomeSkipped},
		{"older version", links.Side{ID: "1", Version: 20, Hash: "old"}, 10, fixed, activity.OutcomeSkipped, activity.OutcomeSkipped},
		{"our own write at that version", links.Side{ID: "1", Version: 10, Hash: "old", WrittenAt: written, EchoVersion: 10}, 10, fixed, activity.OutcomeSkipped, activity.OutcomeSkipped},
		{"user change after our write", links.Side{ID: "1", Version: 10, Hash: "old", WrittenAt: written, EchoVersion: 8}, 10, fixed, activity.OutcomeSkipped, activity.OutcomeSuccess},
		{"written before echo versions were kept", links.Side{ID: "1", Version: 10, Hash: "old", WrittenAt: written}, 10, fixed, activity.OutcomeSkipped, activity.OutcomeSkipped},
		{"newer version", links.Side{ID: "1", Version: 5, Hash: "old"}, 10, fixed, activity.OutcomeSuccess, activity.OutcomeSuccess},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := link(tc.side)
			if d := Decide(settings, l, streams.SystemHubSpot, tc.version, tc.tr); d.Outcome != tc.live {
				t.Errorf("live: got %+v, want %s", d, tc.live)
			}
			d := DecideReplayed(settings, l, streams.SystemHubSpot, tc.version, tc.tr)
			if d.Outcome != tc.replayed {
				t.Fatalf("replayed: got %+v, want %s", d, tc.replayed)
			}
			if d.Outcome == activity.OutcomeSuccess && d.Action != record.ActionUpdate {
				t.Fatalf("replayed action %q", d.Action)
			}
		})
	}
}
