package transformer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/services/api"
	"github.com/ledgersync/ledgersync/services/transformer"
	"github.com/ledgersync/ledgersync/streams"
)

func TestStageMapsPassesOnAndRecordsActivity(t *testing.T) {
	ns := testutil.StartJetStreamWithTopology(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := ns.JS.KeyValue(ctx, streams.BucketConnections)
	if err != nil {
		t.Fatal(err)
	}
	c := api.NewConnection("acme", "Acme", time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if _, err := connection.NewStore(kv).Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	cache, err := connection.Watch(ctx, kv, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := transformer.New(ctx, transformer.Config{Workers: 2, MaxAttempts: 3}, ns.JS, cache, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	publish := func(source streams.System, id string, in record.Ingested) {
		t.Helper()
		payload, _ := json.Marshal(in)
		m, err := pipeline.OutputMsg(envelope.Envelope{Connection: "acme", Object: streams.ObjectContact, Stage: streams.StageIngested,
			Source: source, RecordID: id, SourceVersion: "1", OccurredAt: time.Now(), Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ns.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// A QBO customer passes (all customers come in); a HubSpot contact with
	// no invoices is held back by the recommended outgoing filter.
	publish(streams.SystemQBO, "58", record.Ingested{Fields: map[string]string{"PrimaryEmailAddr.Address": "Ada@Example.com", "GivenName": "Ada", "FamilyName": "Lovelace"}})
	publish(streams.SystemHubSpot, "101", record.Ingested{Fields: map[string]string{"email": "bo@example.com", "createdate": "2026-11-28T00:00:00Z"}})

	out, err := ns.JS.Stream(ctx, streams.StreamTransformed)
	if err != nil {
		t.Fatal(err)
	}
	var msg []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := out.GetLastMsgForSubject(ctx, streams.StageSubject(streams.StageTransformed, "acme", streams.ObjectContact, streams.SystemQBO))
		if err == nil {
			msg = m.Data
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no transformed output")
		}
		time.Sleep(20 * time.Millisecond)
	}
	env, err := envelope.Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	var tr record.Transformed
	if err := json.Unmarshal(env.Payload, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Target != streams.SystemHubSpot || tr.MatchKey != "ada@example.com" || tr.Fields["firstname"] != "Ada" {
		t.Fatalf("transformed %+v", tr)
	}

	// Both outcomes are in the activity stream: one success, one excluded with its rule.
	act, err := ns.JS.Stream(ctx, streams.StreamActivity)
	if err != nil {
		t.Fatal(err)
	}
	var excluded activity.Event
	deadline = time.Now().Add(10 * time.Second)
	for {
		m, err := act.GetLastMsgForSubject(ctx, streams.ActivitySubject("acme", streams.ObjectContact, string(activity.OutcomeExcluded)))
		if err == nil {
			events, derr := activity.DecodeMessage(m.Data)
			if derr != nil || len(events) != 1 {
				t.Fatalf("%v %d", derr, len(events))
			}
			excluded = events[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no excluded activity")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if excluded.HubSpotID != "101" || !strings.Contains(excluded.ErrorMessage, "sync filter: invoices.hs_invoice_source is any of [hubspot] (no value)") || excluded.Direction != "hubspot_to_qbo" {
		t.Fatalf("excluded event %+v", excluded)
	}
	if _, err := act.GetLastMsgForSubject(ctx, streams.ActivitySubject("acme", streams.ObjectContact, string(activity.OutcomeSuccess))); err != nil {
		t.Fatalf("no success activity: %v", err)
	}
	if n := func() uint64 { i, _ := out.Info(ctx); return i.State.Msgs }(); n != 1 {
		t.Fatalf("%d transformed messages, want 1 (the excluded one must not pass)", n)
	}
}
