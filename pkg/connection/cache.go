package connection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// Cache keeps every connection in memory, current through a watch on the
// bucket, so stages read settings without a KV round trip per message and
// see edits within moments (P8: turning a sync off stops it at once).
type Cache struct {
	mu    sync.RWMutex
	conns map[string]Connection
	rev   uint64        // the bucket revision the cache is current to
	moved chan struct{} // closed and replaced when rev moves
	ready chan struct{}
}

// Watch starts a cache on the connections bucket; it fills before Watch
// returns and follows changes until ctx ends.
func Watch(ctx context.Context, kv jetstream.KeyValue, logger *slog.Logger) (*Cache, error) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch connections: %w", err)
	}
	c := &Cache{conns: map[string]Connection{}, moved: make(chan struct{}), ready: make(chan struct{})}
	go func() {
		defer w.Stop()
		initial := true
		for e := range w.Updates() {
			if e == nil { // end of the initial values
				if initial {
					initial = false
					close(c.ready)
				}
				continue
			}
			c.apply(e, logger)
		}
	}()
	select {
	case <-c.ready:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Cache) apply(e jetstream.KeyValueEntry, logger *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Revision() > c.rev {
		c.rev = e.Revision()
		close(c.moved)
		c.moved = make(chan struct{})
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(c.conns, e.Key())
		return
	}
	var conn Connection
	if err := json.Unmarshal(e.Value(), &conn); err != nil {
		logger.Error("unreadable connection in the bucket; keeping the previous version", "connection", e.Key(), "err", err)
		return
	}
	c.conns[e.Key()] = conn
}

// ErrUnknown is returned for a connection the cache does not hold.
var ErrUnknown = errors.New("unknown connection")

// CodeUnknown is the failure category of a message for a connection this
// process does not know: deleted, or created a moment ago and not seen yet,
// so it is retried before it is dead-lettered.
const CodeUnknown syncerr.Code = "CONNECTION_UNKNOWN"

// CodeSettingsBehind is the failure category of a message read under
// settings this process has not seen yet (its watch is behind): retried.
const CodeSettingsBehind syncerr.Code = "CONNECTION_SETTINGS_BEHIND"

// settingsWait bounds how long GetAt waits for the watch to catch up.
const settingsWait = 5 * time.Second

// GetAt returns a connection's settings as of revision rev of the bucket
// or later (rev 0: whatever the cache holds). A watch is normally behind
// by moments; past settingsWait the message is retried later.
func (c *Cache) GetAt(ctx context.Context, id string, rev uint64) (Connection, error) {
	timer := time.NewTimer(settingsWait)
	defer timer.Stop()
	for {
		c.mu.RLock()
		current, moved := c.rev, c.moved
		c.mu.RUnlock()
		if current >= rev {
			return c.Get(id)
		}
		select {
		case <-moved:
		case <-timer.C:
			return Connection{}, syncerr.Transient(CodeSettingsBehind, fmt.Errorf(
				"connection %s: the record was read under settings revision %d, this process has %d", id, rev, current))
		case <-ctx.Done():
			return Connection{}, syncerr.Transient(CodeSettingsBehind, ctx.Err())
		}
	}
}

// Get returns the current settings of a connection.
func (c *Cache) Get(id string) (Connection, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	conn, ok := c.conns[id]
	if !ok {
		return Connection{}, syncerr.Transient(CodeUnknown, fmt.Errorf("%w: %s", ErrUnknown, id))
	}
	return conn, nil
}
