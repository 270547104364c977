package activitysink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/services/activitysink"
	"github.com/ledgersync/ledgersync/streams"
)

// TestWorkspacesFollowTheConnections: ClickHouse learns each connection's
// workspace, existing ones at start and later changes as they happen; a
// deleted connection belongs to no workspace, so no SQL reader sees it.
func TestWorkspacesFollowTheConnections(t *testing.T) {
	ns := testutil.StartJetStreamWithTopology(t, nil)
	store, err := activity.Open(testutil.ClickHouse(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kv, err := ns.JS.KeyValue(ctx, streams.BucketConnections)
	if err != nil {
		t.Fatal(err)
	}
	conns := connection.NewStore(kv)
	for id, ws := range map[string]string{"acme-main": "acme", "demo": "default"} {
		c := connection.Connection{ID: id, Name: id, Workspace: ws, Objects: map[streams.Object]connection.ObjectSettings{}}
		if _, err := conns.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- activitysink.MirrorWorkspaces(mctx, kv, store, logging.Discard()) }()
	expect := func(what string, want map[string]string) {
		t.Helper()
		testutil.WaitFor(t, 20*time.Second, what, func() bool {
			got, err := store.Workspaces(ctx)
			return err == nil && fmt.Sprint(got) == fmt.Sprint(want)
		})
	}
	expect("the existing connections", map[string]string{"acme-main": "acme", "demo": "default"})
	if _, err := conns.Update(ctx, "acme-main", func(c *connection.Connection) error { c.Workspace = "acme-eu"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := conns.Delete(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	expect("a moved and a deleted connection", map[string]string{"acme-main": "acme-eu", "demo": ""})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("the mirror ended with %v", err)
	}
}
