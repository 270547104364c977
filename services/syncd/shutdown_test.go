package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

// TestGracefulShutdownMidFirstSyncLosesAndDuplicatesNothing stops syncd
// (what SIGTERM does: its context ends) in the middle of a first sync of
// 200 contacts into a throttled QBO, checks it stopped cleanly within
// SYNC_SHUTDOWN_TIMEOUT and said not-ready meanwhile, starts it again on
// the same data dir and NATS store, and checks the end state: each contact
// exactly once in QBO, nothing extra in HubSpot, one writer success per
// contact in the activity, no failure.
func TestGracefulShutdownMidFirstSyncLosesAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	const n = 200
	const shutdownTimeout = 10 * time.Second
	d := newDemoSetup(t)
	ctx := context.Background()
	for from := 0; from < n; from += hubspot.MaxBatchInputs {
		var inputs []hubspot.CreateInput
		for i := from; i < min(from+hubspot.MaxBatchInputs, n); i++ {
			inputs = append(inputs, hubspot.CreateInput{Properties: map[string]string{
				"email": fmt.Sprintf("g%03d@graceful.example", i), "firstname": "Grace", "lastname": fmt.Sprintf("Ful %03d", i)}})
		}
		if res, err := d.hs.BatchCreate(ctx, hubspot.Contacts, inputs); err != nil || len(res.Errors) > 0 {
			t.Fatalf("seed HubSpot: %v %+v", err, res)
		}
	}

	// Restarted on the same address: one the kernel never hands out to an
	// outgoing connection meanwhile.
	natsAddr := testutil.FreeAddr(t)
	same := map[string]string{"SYNC_DATA_DIR": t.TempDir(), "SYNC_NATS_LISTEN": natsAddr,
		"SYNC_SHUTDOWN_TIMEOUT": shutdownTimeout.String(), "ACTIVITYSINK_FLUSH_INTERVAL": "200ms", "SIM_QBO_THROTTLE": "on"}
	d.start(same)
	first := d.all
	testutil.WaitFor(t, 30*time.Second, "syncd ready", func() bool { code, _ := first.readyz(t); return code == http.StatusOK })
	// Progress is read from the activity, not from QBO: the test's own
	// queries would eat the realm's budget.
	store := d.activity()
	written := func() uint64 {
		var n uint64
		_ = store.Conn().QueryRow(ctx, `SELECT uniqExact(record_key) FROM sync_activity
			WHERE stage = 'writer' AND outcome = 'success' AND object = 'contact'`).Scan(&n)
		return n
	}
	testutil.WaitFor(t, 60*time.Second, "the first sync to be under way", func() bool {
		time.Sleep(200 * time.Millisecond)
		return written() >= 50
	})

	// Stop it, watching /readyz while it drains.
	var readyWhileStopping, notReadyWhileStopping atomic.Int32
	watching, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watching)
		time.Sleep(100 * time.Millisecond)
		for {
			select {
			case <-stopped:
				return
			default:
			}
			switch code, body := first.readyz(t); code {
			case http.StatusOK:
				readyWhileStopping.Add(1)
			case http.StatusServiceUnavailable:
				if body["status"] == "stopping" {
					notReadyWhileStopping.Add(1)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	stopAt := time.Now()
	code := first.stop(t)
	took := time.Since(stopAt)
	close(stopped)
	<-watching
	atStop := countCustomers(ctx, d.qc)
	t.Logf("stopped with %d of %d customers written, in %v (%d not-ready answers while draining)", atStop, n, took.Round(time.Millisecond), notReadyWhileStopping.Load())
	if code != 0 {
		t.Fatalf("syncd exited %d; logs:\n%s", code, tail(first.logs.String(), 4000))
	}
	if took > shutdownTimeout {
		t.Errorf("stopping took %v, more than SYNC_SHUTDOWN_TIMEOUT %v", took, shutdownTimeout)
	}
	if readyWhileStopping.Load() > 0 {
		t.Errorf("/readyz answered 200 %d times while syncd was stopping", readyWhileStopping.Load())
	}
	if !strings.Contains(first.logs.String(), "shutting down") {
		t.Error("no shutdown in the logs")
	}
	if atStop >= n {
		t.Fatalf("the first sync had finished (%d customers) before the stop: nothing was interrupted", atStop)
	}

	// Start again on the same data dir and NATS store.
	d.start(same)
	second := d.all
	defer func() { keepLogs(t, "all-restarted", second.logs.String()) }()
	defer func() { keepLogs(t, "all-first", first.logs.String()) }()
	testutil.WaitFor(t, 30*time.Second, "syncd ready again", func() bool { code, _ := d.all.readyz(t); return code == http.StatusOK })
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	testutil.WaitFor(t, 90*time.Second, "the first sync to finish after the restart", func() bool {
		time.Sleep(500 * time.Millisecond)
		if w := written(); w < n || !idleStages(ctx, js) {
			if time.Now().Second()%10 == 0 {
				t.Logf("%d written; %s; writer rows: %s", w, consumerStates(ctx, js), writerOutcomes(ctx, store))
			}
			return false
		}
		time.Sleep(2 * time.Second) // echoes still arriving
		return idleStages(ctx, js)
	})

	// Each contact exactly once in QBO, nothing new in HubSpot.
	byEmail, total := qboCustomersByEmail(t, ctx, d.qc)
	for i := range n {
		if e := fmt.Sprintf("g%03d@graceful.example", i); byEmail[e] != 1 {
			t.Errorf("%s: %d QBO customers, want 1", e, byEmail[e])
		}
	}
	if total != n {
		t.Errorf("%d QBO customers, want %d", total, n)
	}
	if got := countContacts(ctx, d.hs); got != n {
		t.Errorf("%d HubSpot contacts, want %d", got, n)
	}

	// One writer success per contact, however often its message was
	// delivered; no failure.
	var keys, dupes, failed uint64
	testutil.WaitFor(t, 20*time.Second, "the writer's activity of every contact", func() bool {
		err := store.Conn().QueryRow(ctx, `SELECT count(), countIf(n > 1) FROM (
			SELECT record_key, uniqExact(event_id) AS n FROM sync_activity
			WHERE stage = 'writer' AND outcome = 'success' AND object = 'contact' GROUP BY record_key)`).Scan(&keys, &dupes)
		return err == nil && keys >= n
	})
	if keys != n || dupes != 0 {
		t.Errorf("writer successes for %d contacts (want %d), %d of them more than once", keys, n, dupes)
	}
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM sync_activity FINAL WHERE outcome = 'failed'").Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != 0 {
		t.Errorf("%d failed activity rows after a graceful restart", failed)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// consumerStates describes the pipeline consumers' backlog, for failures.
func consumerStates(ctx context.Context, js jetstream.JetStream) string {
	var parts []string
	for _, c := range streams.Default(1).Consumers {
		cons, err := js.Consumer(ctx, c.Stream, c.Config.Durable)
		if err != nil {
			continue
		}
		if info, err := cons.Info(ctx); err == nil && (info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0) {
			parts = append(parts, fmt.Sprintf("%s pending=%d ack_pending=%d redelivered=%d", c.Config.Durable, info.NumPending, info.NumAckPending, info.NumRedelivered))
		}
	}
	return strings.Join(parts, "; ")
}

// writerOutcomes counts the writer's contact rows per outcome, for failures.
func writerOutcomes(ctx context.Context, store *activity.Store) string {
	rows, err := store.Conn().Query(ctx, `SELECT outcome, count(), uniqExact(event_id), uniqExact(record_key) FROM sync_activity
		WHERE stage = 'writer' AND object = 'contact' GROUP BY outcome ORDER BY outcome`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var outcome string
		var n, events, keys uint64
		if rows.Scan(&outcome, &n, &events, &keys) == nil {
			parts = append(parts, fmt.Sprintf("%s rows=%d events=%d records=%d", outcome, n, events, keys))
		}
	}
	return strings.Join(parts, ", ")
}
