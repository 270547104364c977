// Package testutil starts the real dependencies tests run against: an
// in-process JetStream server per test and a private database on the local
// ClickHouse server (started by `make test`).
package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/natsconn"
	"github.com/ledgersync/ledgersync/streams"
)

// JetStream is a running in-process server with a client connection.
type JetStream struct {
	Server *server.Server
	Conn   *nats.Conn
	JS     jetstream.JetStream
}

// URL is the server's client URL.
func (j *JetStream) URL() string { return j.Server.ClientURL() }

// Connect opens another client connection (a second "process"), closed at
// the end of the test.
func (j *JetStream) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return Connect(t, j.URL())
}

// Connect opens a client connection with the project's options (urls may
// list several servers; it reconnects for ever, as syncd does), closed at
// the end of the test.
func Connect(t testing.TB, urls string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := natsconn.Connect(config.NATS{URL: urls, ConnectTimeout: 5 * time.Second}, t.Name(), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// TestStore is the JetStream storage of a test server. The streams' caps
// (10 GiB each) are reservations JetStream checks against it; tests write
// a few megabytes. Left to the server's default (three quarters of the
// free disk) the streams are refused on a machine with less than about
// 70 GB free.
const TestStore = 1 << 40

// StartJetStream runs a JetStream server on a random port with its store in
// a temp dir, shut down when the test ends.
func StartJetStream(t testing.TB) *JetStream {
	t.Helper()
	ns, err := natsconn.StartEmbedded(natsconn.EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", MaxStore: TestStore})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	j := &JetStream{Server: ns}
	j.Conn, j.JS = j.Connect(t)
	return j
}

// StartJetStreamWithTopology also ensures the default topology, optionally
// adjusted (shorter ack waits for tests, say).
func StartJetStreamWithTopology(t testing.TB, adjust func(*streams.Topology)) *JetStream {
	t.Helper()
	j := StartJetStream(t)
	topo := streams.Default(1)
	if adjust != nil {
		adjust(&topo)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := streams.Ensure(ctx, j.JS, topo); err != nil {
		t.Fatal(err)
	}
	return j
}
