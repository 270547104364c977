package testutil

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	portsMu sync.Mutex
	// handedOut holds every address FreeAddr returned in this process.
	handedOut = map[string]bool{}
)

// FreeAddr returns a 127.0.0.1 address with a port nothing listens on.
//
// The port lies below the kernel's ephemeral range. From that range the
// kernel picks the local port of every outgoing connection of every process
// on the machine (ClickHouse and NATS clients, the other test binaries of
// `go test ./...`): a port taken from it and closed again may be in use by
// such a connection before the test's server binds it, and that server then
// fails with "address already in use", or a server that stops and starts
// again (a cluster node, a restarted process) cannot get its port back.
// Ports outside that range are only ever taken on purpose.
//
// It never returns the same address twice in a test process: an address
// reused by a later test would give it the API budgets (kept per account and
// host:port for the whole process) and webhook targets of an earlier one.
func FreeAddr(t testing.TB) string {
	t.Helper()
	from, to := portRange()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(from+rand.IntN(to-from)))
		if handedOut[addr] {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		handedOut[addr] = true
		return addr
	}
	t.Fatalf("no free local port in %d-%d after 1000 tries", from, to-1)
	return ""
}

// portRange is where FreeAddr looks: from 10000 up to the start of the
// kernel's ephemeral range (Linux's default is 32768-60999), or above its
// end when it starts too low to leave room below.
func portRange() (from, to int) {
	start, end := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			s, err1 := strconv.Atoi(f[0])
			e, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil {
				start, end = s, e
			}
		}
	}
	const low = 10000
	switch {
	case start-low >= 1000:
		return low, start
	case 65535-end >= 1000:
		return end + 1, 65536
	default: // the whole space is ephemeral: take any unprivileged port
		return 1024, 65536
	}
}
