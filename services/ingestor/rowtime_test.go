package ingestor_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/services/ingestor"
	"github.com/ledgersync/ledgersync/streams"
)

// TestRowsAreDatedBeforeTheirRecordIsStored: an ingestor row is dated
// before its record reached the stream. The stages after it date theirs
// after they received the record, so in the status views (the latest row
// of a record wins) the ingestor's "pending" never comes after the
// resolver's "synced" of the same change: a row dated when the publish ack
// was read could, when the transformer and the resolver were quicker.
func TestRowsAreDatedBeforeTheirRecordIsStored(t *testing.T) {
	h := newHarness(t, false)
	h.start(h.config(time.Hour), true) // the backfill only
	eventually(t, 20*time.Second, "both backfills", func() bool {
		return h.backfillDone(streams.SystemHubSpot) && h.backfillDone(streams.SystemQBO)
	})
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	stored := map[string]time.Time{} // Nats-Msg-Id -> when the stream stored it
	in, err := h.ns.JS.Stream(ctx, streams.StreamIngested)
	if err != nil {
		t.Fatal(err)
	}
	info, err := in.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := in.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		stored[m.Header.Get(jetstream.MsgIDHeader)] = m.Time
	}
	act, err := h.ns.JS.Stream(ctx, streams.StreamActivity)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := act.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{streams.ActivitySubject("*", "*", string(activity.OutcomeSuccess))}})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for rows < len(stored) {
		m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			break
		}
		evs, err := activity.DecodeMessage(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Stage != ingestor.Stage {
				continue
			}
			rows++
			at, ok := stored[e.MessageID]
			if !ok {
				t.Fatalf("ingestor row for %s, a message the stream does not hold", e.MessageID)
			}
			if e.Time.After(at) {
				t.Errorf("row of %s dated %s, after the stream stored the record at %s",
					e.RecordKey, e.Time.Format(time.RFC3339Nano), at.UTC().Format(time.RFC3339Nano))
			}
		}
	}
	if rows == 0 || rows != len(stored) {
		t.Fatalf("%d ingestor success rows for %d ingested messages", rows, len(stored))
	}
}
