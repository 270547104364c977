package ingestor_test

import (
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/services/ingestor"
	"github.com/ledgersync/ledgersync/streams"
)

// TestRequestedBackfillHandsOverSafely: with two instances polling every
// 100 ms, an operator's backfill request is served once, by the poll
// leader, under the run id and in the first-sync lane; the cursor is then
// an ordinary cursor again and polling goes on.
func TestRequestedBackfillHandsOverSafely(t *testing.T) {
	h := newHarness(t, false)
	cfg := h.config(100 * time.Millisecond)
	h.start(cfg, false)
	h.start(cfg, false)
	eventually(t, 20*time.Second, "the first sync", func() bool { return h.backfillDone(streams.SystemHubSpot) })
	first := len(h.ingested(streams.SystemHubSpot))

	kv, err := h.ns.JS.KeyValue(h.ctx, streams.BucketCursors)
	if err != nil {
		t.Fatal(err)
	}
	const run = "bf-handover"
	if err := ingestor.RequestBackfill(h.ctx, kv, connID, streams.SystemHubSpot, streams.ObjectContact, run); err != nil {
		t.Fatal(err)
	}
	progress := func() ingestor.Backfill {
		e, err := kv.Get(h.ctx, ingestor.BackfillKey(connID, streams.SystemHubSpot, streams.ObjectContact))
		if err != nil {
			t.Fatal(err)
		}
		var b ingestor.Backfill
		_ = json.Unmarshal(e.Value(), &b)
		return b
	}
	eventually(t, 20*time.Second, "the requested backfill", func() bool { p := progress(); return p.Run == run && p.State == "done" })
	if p := progress(); p.Done != first || p.Total != first {
		t.Fatalf("progress %+v, want %d done", p, first)
	}
	time.Sleep(500 * time.Millisecond) // several polls later: served once
	var ofRun []envelope.Envelope
	for _, e := range h.ingested(streams.SystemHubSpot) {
		if e.ReplayID == run {
			ofRun = append(ofRun, e)
		}
	}
	if len(ofRun) != first {
		t.Fatalf("%d records published under the run, want %d (served once)", len(ofRun), first)
	}
	for _, e := range ofRun {
		if e.Lane != streams.LaneBackfill {
			t.Fatalf("record %s in lane %q", e.RecordID, e.Lane)
		}
	}
	e, err := kv.Get(h.ctx, ingestor.CursorKey(connID, streams.SystemHubSpot, streams.ObjectContact))
	if err != nil {
		t.Fatal(err)
	}
	var cur ingestor.Cursor
	if err := json.Unmarshal(e.Value(), &cur); err != nil || cur.BackfillRun != "" || cur.Since.IsZero() {
		t.Fatalf("cursor after the backfill %+v %v", cur, err)
	}
	// Polling goes on from the new cursor.
	id := ofRun[0].RecordID
	h.editHubSpot(id, map[string]string{"firstname": "After"})
	eventually(t, 10*time.Second, "a polled change after the backfill", func() bool {
		for _, e := range h.ingested(streams.SystemHubSpot) {
			if e.RecordID == id && e.ReplayID == "" && e.Lane == streams.LaneLive && payload(t, e).Fields["firstname"] == "After" {
				return true
			}
		}
		return false
	})
}
