package resolver

import (
	"maps"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/streams"
)

func TestDecide(t *testing.T) {
	hsWins := connection.ObjectSettings{ConflictWinner: streams.SystemHubSpot}
	qboWins := connection.ObjectSettings{ConflictWinner: streams.SystemQBO}
	link := func(hs, qbo links.Side) links.Link {
		return links.Link{Sides: map[streams.System]links.Side{streams.SystemHubSpot: hs, streams.SystemQBO: qbo}}
	}
	tr := record.Transformed{Hash: "h2", Target: streams.SystemQBO}
	cases := []struct {
		name     string
		settings connection.ObjectSettings
		link     links.Link
		version  int64
		tr       record.Transformed
		outcome  activity.Outcome
		action   string
	}{
		{"first sight creates", hsWins, link(links.Side{ID: "1"}, links.Side{}), 10, tr, activity.OutcomeSuccess, record.ActionCreate},
		{"linked updates", hsWins, link(links.Side{ID: "1", Version: 5, Hash: "h1"}, links.Side{ID: "9", Version: 5}), 10, tr, activity.OutcomeSuccess, record.ActionUpdate},
		{"older change dropped", hsWins, link(links.Side{ID: "1", Version: 20, Hash: "h1"}, links.Side{ID: "9"}), 10, tr, activity.OutcomeSkipped, ""},
		{"same version dropped", hsWins, link(links.Side{ID: "1", Version: 10, Hash: "h1"}, links.Side{ID: "9"}), 10, tr, activity.OutcomeSkipped, ""},
		{"echo of our write", hsWins, link(links.Side{ID: "1", Version: 5, Hash: "h2", WrittenAt: time.Now()}, links.Side{ID: "9"}), 10, tr, activity.OutcomeSkippedEcho, ""},
		{"unchanged mapped fields", hsWins, link(links.Side{ID: "1", Version: 5, Hash: "h2"}, links.Side{ID: "9"}), 10, tr, activity.OutcomeSkipped, ""},
		{"both changed, other side wins", qboWins, link(links.Side{ID: "1", Version: 5, Hash: "h1"}, links.Side{ID: "9", Version: 5, Seen: 8}), 10, tr, activity.OutcomeSkipped, ""},
		{"both changed, this side wins", hsWins, link(links.Side{ID: "1", Version: 5, Hash: "h1"}, links.Side{ID: "9", Version: 5, Seen: 8}), 10, tr, activity.OutcomeSuccess, record.ActionUpdate},
		{"deleted", hsWins, link(links.Side{ID: "1"}, links.Side{ID: "9"}), 10, record.Transformed{Deleted: true}, activity.OutcomeSkipped, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.settings, tc.link, streams.SystemHubSpot, tc.version, tc.tr)
			if d.Outcome != tc.outcome || d.Action != tc.action {
				t.Fatalf("got %+v, want %s %s", d, tc.outcome, tc.action)
			}
			if d.Outcome != activity.OutcomeSuccess && d.Reason == "" {
				t.Fatal("a skip needs a reason")
			}
		})
	}
}

func TestArchivesFollowTheConnectionSetting(t *testing.T) {
	products := connection.Recommended(streams.ObjectProduct, time.Now())
	contacts := connection.Recommended(streams.ObjectContact, time.Now())
	linked := links.Link{Sides: map[streams.System]links.Side{
		streams.SystemQBO: {ID: "7", Version: 100}, streams.SystemHubSpot: {ID: "h7", Version: 100}}}
	gone := record.Transformed{Target: streams.SystemHubSpot, Deleted: true}
	if d := Decide(products, linked, streams.SystemQBO, 200, gone); d.Outcome != activity.OutcomeSuccess || d.Action != record.ActionArchive {
		t.Fatalf("inactive item of a linked product: %+v", d)
	}
	if d := Decide(contacts, linked, streams.SystemQBO, 200, gone); d.Outcome != activity.OutcomeSkipped {
		t.Fatalf("contacts do not sync deletions: %+v", d)
	}
	done := linked
	done.Sides = map[streams.System]links.Side{streams.SystemQBO: {ID: "7", Version: 100}, streams.SystemHubSpot: {ID: "h7", Archived: true}}
	if d := Decide(products, done, streams.SystemQBO, 200, gone); d.Outcome != activity.OutcomeSkippedEcho {
		t.Fatalf("product already archived: %+v", d)
	}
	unsynced := links.Link{Sides: map[streams.System]links.Side{streams.SystemQBO: {ID: "8"}}}
	if d := Decide(products, unsynced, streams.SystemQBO, 200, gone); d.Outcome != activity.OutcomeSkipped {
		t.Fatalf("inactive item never synced: %+v", d)
	}
}

// A record that differs from the last sync only by fields ledgersync wrote
// without reading the record back is an echo; any other difference, or a
// different value in a written field, is a change of the user's.
func TestEchoOfFieldsWeWrote(t *testing.T) {
	synced := map[string]string{"DocNumber": "HS-1001", "TxnDate": "2026-11-01", "_lines": "[...]"}
	side := links.Side{ID: "1", Version: 5, Hash: mapping.Hash(synced)}
	side.AddEcho(map[string]links.EchoField{"DueDate": {Before: "", After: "2026-12-15"}})
	side.AddEcho(map[string]links.EchoField{"DueDate": {Before: "2026-12-15", After: "2026-12-31"}}) // written twice before it came back
	l := links.Link{Sides: map[streams.System]links.Side{streams.SystemHubSpot: side, streams.SystemQBO: {ID: "9", Version: 5}}}
	with := func(changes map[string]string) record.Transformed {
		f := maps.Clone(synced)
		maps.Copy(f, changes)
		return record.Transformed{Target: streams.SystemQBO, Fields: f, Hash: mapping.Hash(f)}
	}
	settings := connection.ObjectSettings{ConflictWinner: streams.SystemHubSpot}
	echo := Decide(settings, l, streams.SystemHubSpot, 10, with(map[string]string{"DueDate": "2026-12-31"}))
	if echo.Outcome != activity.OutcomeSkippedEcho || !echo.AdoptHash {
		t.Fatalf("our due date coming back: %+v", echo)
	}
	for name, changes := range map[string]map[string]string{
		"another due date":            {"DueDate": "2027-01-10"},
		"our due date and a new doc":  {"DueDate": "2026-12-31", "DocNumber": "HS-1002"},
		"the first of our two writes": {"DueDate": "2026-12-15"},
	} {
		if d := Decide(settings, l, streams.SystemHubSpot, 10, with(changes)); d.Outcome != activity.OutcomeSuccess || d.AdoptHash {
			t.Errorf("%s: %+v, want it synced", name, d)
		}
	}
}
