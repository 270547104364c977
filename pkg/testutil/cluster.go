package testutil

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a JetStream cluster of in-process servers on loopback ports,
// each with its own store dir. A node shut down with Shutdown, or crashed
// with Crash, comes back with Restart on the same ports and store, as a
// restarted pod would.
//
// Each node reaches each other node's route port through a proxy of its
// own (links[i][j] carries i's routes to j), so a node can be cut off from
// its peers at once, as a killed process is.
type Cluster struct {
	t       testing.TB
	opts    []*server.Options // what each node starts with
	servers []*server.Server  // nil while a node is down
	links   [][]*Proxy        // links[i][j]: node i's route to node j; nil for i == j
}

// StartJetStreamCluster runs n JetStream servers routed to each other and
// waits until they have elected a meta leader and know every peer. They are
// shut down when the test ends.
func StartJetStreamCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, servers: make([]*server.Server, n), links: make([][]*Proxy, n)}
	clientPorts, routeAddrs := make([]int, n), make([]string, n)
	for i := range n {
		clientPorts[i] = port(t, FreeAddr(t))
		routeAddrs[i] = FreeAddr(t)
	}
	// Nothing listens on the advertised route address: a node that learns
	// of a peer from another (gossip) cannot open a route to it past the
	// proxies, and keeps retrying its configured route, which goes through
	// them.
	nowhere := FreeAddr(t)
	for i := range n {
		c.links[i] = make([]*Proxy, n)
		var routes []string
		for j := range n {
			if j != i {
				c.links[i][j] = StartProxy(t, routeAddrs[j])
				routes = append(routes, "nats://"+c.links[i][j].Addr())
			}
		}
		c.opts = append(c.opts, &server.Options{
			ServerName: "n" + strconv.Itoa(i+1),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			// See TestStore.
			JetStreamMaxStore: TestStore,
			NoSigs:            true,
			NoLog:             true,
			MaxPayload:        8 << 20, // as the embedded server: every node must agree
			Cluster: server.ClusterOpts{
				Name:      "ledgersync-test",
				Host:      "127.0.0.1",
				Port:      port(t, routeAddrs[i]),
				Advertise: nowhere,
			},
			Routes: server.RoutesFromStr(strings.Join(routes, ",")),
		})
	}
	t.Cleanup(func() {
		for i := range c.servers {
			c.Shutdown(i)
		}
	})
	for i := range n {
		c.start(i)
	}
	c.WaitForMetaLeader(30 * time.Second)
	return c
}

func port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (c *Cluster) start(i int) {
	c.t.Helper()
	ns, err := server.NewServer(c.opts[i].Clone())
	if err != nil {
		c.t.Fatalf("cluster node %d: %v", i, err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(20 * time.Second) {
		ns.Shutdown()
		c.t.Fatalf("cluster node %s did not accept clients within 20s", c.opts[i].ServerName)
	}
	c.servers[i] = ns
}

// Size is the number of nodes, up or down.
func (c *Cluster) Size() int { return len(c.opts) }

// Name is node i's server name.
func (c *Cluster) Name(i int) string { return c.opts[i].ServerName }

// Server is node i, nil while it is down.
func (c *Cluster) Server(i int) *server.Server { return c.servers[i] }

// URL lists every node's client URL, comma separated, as NATS_URL takes it.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.opts))
	for i, o := range c.opts {
		urls[i] = fmt.Sprintf("nats://%s:%d", o.Host, o.Port)
	}
	return strings.Join(urls, ",")
}

// Connect opens a client connection to the cluster with the project's
// options (reconnecting to the other nodes), closed at the end of the test.
func (c *Cluster) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return Connect(t, c.URL())
}

// Shutdown stops node i (its raft leaderships are handed over first, as on
// SIGTERM). Shutting down a node that is down does nothing.
func (c *Cluster) Shutdown(i int) {
	if ns := c.servers[i]; ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		c.servers[i] = nil
	}
}

// Crash stops node i as a killed process (or a lost machine) stops: its
// routes are cut first, so the leaderships it holds are not handed over
// and its peers learn of the loss only by its silence (raft's election
// timeout); then it shuts down, dropping its clients' connections.
// Crashing a node that is down does nothing.
func (c *Cluster) Crash(i int) {
	if c.servers[i] == nil {
		return
	}
	c.cut(i, true)
	// Every route went through the proxies (none is left once they are
	// cut), or this would be a clean shutdown under another name.
	ns := c.servers[i]
	WaitFor(c.t, 10*time.Second, c.Name(i)+" cut off from its peers", func() bool { return ns.NumRoutes() == 0 })
	c.Shutdown(i)
}

// cut cuts node i's routes to and from every peer, or restores them.
func (c *Cluster) cut(i int, cut bool) {
	for j := range c.links {
		for _, p := range []*Proxy{c.links[i][j], c.links[j][i]} {
			switch {
			case p == nil:
			case cut:
				p.Cut()
			default:
				p.Restore()
			}
		}
	}
}

// Restart starts node i again on its ports and store dir (after a crash,
// with its routes restored).
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.servers[i] != nil {
		c.t.Fatalf("cluster node %s is already running", c.Name(i))
	}
	c.cut(i, false)
	c.start(i)
}

// find returns the index of the running node for which is holds, or -1.
func (c *Cluster) find(is func(*server.Server) bool) int {
	for i, ns := range c.servers {
		if ns != nil && ns.Running() && is(ns) {
			return i
		}
	}
	return -1
}

// MetaLeader is the index of the node leading the JetStream meta group, or
// -1 while there is none.
func (c *Cluster) MetaLeader() int {
	return c.find(func(ns *server.Server) bool { return ns.JetStreamIsLeader() })
}

// StreamLeader is the index of the node leading the stream's raft group
// (in the default account), or -1 while there is none.
func (c *Cluster) StreamLeader(stream string) int {
	return c.find(func(ns *server.Server) bool { return ns.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) })
}

// ConsumerLeader is the index of the node leading the consumer's raft
// group, or -1 while there is none.
func (c *Cluster) ConsumerLeader(stream, consumer string) int {
	return c.find(func(ns *server.Server) bool {
		return ns.JetStreamIsConsumerLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream, consumer)
	})
}

// WaitForMetaLeader waits until a meta leader is elected and every running
// node knows all the cluster's peers, so replicated assets can be placed.
func (c *Cluster) WaitForMetaLeader(d time.Duration) {
	c.t.Helper()
	WaitFor(c.t, d, "a JetStream meta leader knowing every peer", func() bool {
		l := c.MetaLeader()
		if l < 0 || len(c.servers[l].JetStreamClusterPeers()) < c.Size() {
			return false
		}
		for _, ns := range c.servers {
			if ns != nil && !ns.JetStreamIsCurrent() {
				return false
			}
		}
		return true
	})
}

// StreamStates is each running node's own copy of every stream: node name
// -> stream name -> state.
func (c *Cluster) StreamStates() (map[string]map[string]server.StreamState, error) {
	out := map[string]map[string]server.StreamState{}
	for i, ns := range c.servers {
		if ns == nil {
			continue
		}
		acc, err := ns.JszAccount(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name(i), err)
		}
		states := map[string]server.StreamState{}
		for _, s := range acc.Streams {
			states[s.Name] = s.State
		}
		out[c.Name(i)] = states
	}
	return out, nil
}
