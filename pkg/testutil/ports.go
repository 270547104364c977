package testutil

import (
	"net"
	"sync"
	"testing"
)

var (
	portsMu sync.Mutex
	// handedOut holds every address FreeAddr returned in this process.
	handedOut = map[string]bool{}
)

// FreeAddr returns a 127.0.0.1 address with a port nothing listens on, and
// never the same one twice in a test process: the kernel may hand a port
// back soon after it was closed, and an address reused by a later test
// would give it the API budgets (kept per account and host:port for the
// whole process) and webhook targets of an earlier one.
func FreeAddr(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handedOut[addr] {
			handedOut[addr] = true
			return addr
		}
	}
	t.Fatal("no fresh local port after 100 tries")
	return ""
}
