// Package sharedbudget keeps the rate windows of every HubSpot portal and
// QBO company in a NATS KV bucket, so that all the processes calling an
// account (writer replicas, the ingestor, the api) spend one budget
// together instead of one each. It implements gcra.Shared: one state per
// account key holding the theoretical arrival time of each limit, updated
// by compare-and-set.
//
// Sharing must never stop a call: when the bucket cannot be reached within
// the timeout, Take fails fast and the caller paces that call with its
// per-process budget; after a failure the store stays in that mode for a
// few seconds (no call waits on a dead server) and then tries again.
package sharedbudget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/gcra"
	"github.com/ledgersync/ledgersync/pkg/logging"
)

// Mode is the SYNC_SHARED_BUDGETS setting.
type Mode string

// Modes: auto shares when the process uses an external NATS server (its
// budgets may be spent by other processes too); the all-in-one mode is the
// only process of its accounts.
const (
	ModeAuto Mode = "auto"
	ModeOn   Mode = "on"
	ModeOff  Mode = "off"
)

// EnvDecode accepts auto, on or off (true/false and 1/0 for scripts).
func (m *Mode) EnvDecode(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "auto":
		*m = ModeAuto
	case "on", "true", "1":
		*m = ModeOn
	case "off", "false", "0":
		*m = ModeOff
	default:
		return fmt.Errorf("%q is not auto, on or off", v)
	}
	return nil
}

// Enabled reports whether budgets are shared, given whether NATS is
// embedded in this process.
func (m Mode) Enabled(embeddedNATS bool) bool {
	switch m {
	case ModeOn:
		return true
	case ModeOff:
		return false
	}
	return !embeddedNATS
}

// Config is read by syncd run (variables SYNC_SHARED_BUDGETS*).
type Config struct {
	// Mode: auto (on unless NATS is embedded), on or off.
	Mode Mode `env:"SYNC_SHARED_BUDGETS, default=auto"`
	// Timeout bounds one booking in the bucket; past it the call goes on
	// the process's own budget.
	Timeout time.Duration `env:"SYNC_SHARED_BUDGETS_TIMEOUT, default=500ms"`
}

// Options tune a Store; zero fields take the defaults.
type Options struct {
	// Timeout bounds a Take (waiting for the account's turn in this
	// process included). Default 500ms.
	Timeout time.Duration
	// RetryAfter is how long the store answers "unavailable" at once
	// after a failure before it tries the bucket again. Default 5s.
	RetryAfter time.Duration
	Logger     *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Errors of Take; the caller falls back to its local budget on any error.
var (
	// ErrUnavailable: the bucket failed recently; the store waits for
	// RetryAfter before it tries again.
	ErrUnavailable = errors.New("shared budget unavailable")
	// ErrBusy: the account's earlier bookings in this process did not
	// finish within the timeout.
	ErrBusy = errors.New("shared budget busy")
)

// maxAttempts bounds the compare-and-set rounds of one booking; the
// timeout bounds them too.
const maxAttempts = 64

// Store is a gcra.Shared on a KV bucket. It is safe for concurrent use.
type Store struct {
	js         jetstream.JetStream
	bucket     string
	timeout    time.Duration
	retryAfter time.Duration
	log        *slog.Logger
	now        func() time.Time

	mu        sync.Mutex
	kv        jetstream.KeyValue
	downUntil time.Time
	keys      map[string]*account
}

// account is what the store keeps per key: a turn (one booking in flight
// per key and process, so the process's callers do not race each other
// for the revision) and the last state written or read.
type account struct {
	turn chan struct{}
	// Guarded by turn.
	state gcra.State
	rev   uint64 // 0: the key does not exist (as far as we know)
	known bool   // state and rev reflect a read or our own write

	// Guarded by Store.mu.
	seen        gcra.State // copy of state for Usage
	seenOK      bool
	fallingBack bool // warned; an info line marks the return
	skewWarned  bool
}

// New returns a store on bucket (opened at the first Take, so a bucket
// created later by `syncd streams ensure` is picked up).
func New(js jetstream.JetStream, bucket string, o Options) *Store {
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{js: js, bucket: bucket, timeout: o.Timeout, retryAfter: o.RetryAfter, log: o.Logger, now: o.Now,
		keys: map[string]*account{}}
}

func (s *Store) account(key string) *account {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.keys[key]
	if a == nil {
		a = &account{turn: make(chan struct{}, 1)}
		s.keys[key] = a
	}
	return a
}

// Take books one call of r in the bucket and returns the wait before it.
// It returns within the store's timeout; any error means "pace this call
// locally". The caller's own cancellation comes back as ctx's error.
func (s *Store) Take(ctx context.Context, r gcra.Request) (time.Duration, error) {
	a := s.account(r.Key)
	if err := s.available(); err != nil {
		s.fellBack(r.Key, a, err)
		return 0, err
	}
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	select {
	case a.turn <- struct{}{}:
	case <-tctx.Done():
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		s.fellBack(r.Key, a, ErrBusy)
		return 0, ErrBusy
	}
	d, err := s.book(tctx, r, a)
	<-a.turn
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		s.failed()
		s.fellBack(r.Key, a, err)
		return 0, err
	}
	s.succeeded(r.Key, a)
	return d, nil
}

// book runs the compare-and-set rounds. The caller holds a.turn.
func (s *Store) book(ctx context.Context, r gcra.Request, a *account) (time.Duration, error) {
	kv, err := s.open(ctx)
	if err != nil {
		return 0, err
	}
	for range maxAttempts {
		if !a.known {
			if err := s.read(ctx, kv, r.Key, a); err != nil {
				return 0, err
			}
		}
		next := clone(a.state)
		d, skewed := next.Take(s.now(), r.Limits, r.Window)
		val, err := json.Marshal(next)
		if err != nil {
			return 0, err
		}
		var rev uint64
		if a.rev == 0 {
			rev, err = kv.Create(ctx, r.Key, val)
		} else {
			rev, err = kv.Update(ctx, r.Key, val, a.rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			// Another process booked since we last looked: read its
			// state and book again on top of it.
			a.known = false
			continue
		}
		if err != nil {
			a.known = false
			return 0, err
		}
		a.state, a.rev, a.known = next, rev, true
		if skewed {
			s.warnSkew(r.Key, a)
		}
		return d, nil
	}
	return 0, fmt.Errorf("shared budget %s: still contended after %d rounds", r.Key, maxAttempts)
}

func (s *Store) read(ctx context.Context, kv jetstream.KeyValue, key string, a *account) error {
	e, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		// Never written, expired (the bucket's TTL) or deleted: an idle
		// account. Create works over a delete marker too.
		a.state, a.rev, a.known = gcra.State{}, 0, true
		return nil
	case err != nil:
		return err
	}
	var st gcra.State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		// Not ours to keep: the next write replaces it.
		s.log.Warn("shared budget state unreadable, starting it afresh", "key", e.Key(), logging.KeyError, err)
		st = gcra.State{}
	}
	a.state, a.rev, a.known = st, e.Revision(), true
	return nil
}

func clone(st gcra.State) gcra.State {
	out := st
	out.TAT = make(map[string]int64, len(st.TAT)+1)
	for k, v := range st.TAT {
		out.TAT[k] = v
	}
	return out
}

func (s *Store) open(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	kv := s.kv
	s.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	kv, err := s.js.KeyValue(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("%s bucket: %w", s.bucket, err)
	}
	s.mu.Lock()
	s.kv = kv
	s.mu.Unlock()
	return kv, nil
}

// available fails fast while the store waits out a failure. The first
// caller after the wait goes to the bucket; the others keep failing fast
// until it is back, so a dead server costs one timeout per RetryAfter.
func (s *Store) available() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downUntil.IsZero() {
		return nil
	}
	now := s.now()
	if now.Before(s.downUntil) {
		return ErrUnavailable
	}
	s.downUntil = now.Add(s.retryAfter) // this caller probes
	return nil
}

func (s *Store) failed() {
	s.mu.Lock()
	s.downUntil = s.now().Add(s.retryAfter)
	s.mu.Unlock()
}

func (s *Store) fellBack(key string, a *account, err error) {
	s.mu.Lock()
	a.seenOK = false
	first := !a.fallingBack
	a.fallingBack = true
	s.mu.Unlock()
	if first {
		s.log.Warn("shared API budget unreachable: this process paces the account's calls alone until it answers",
			"key", key, logging.KeyError, err)
	}
}

func (s *Store) succeeded(key string, a *account) {
	s.mu.Lock()
	s.downUntil = time.Time{}
	a.seen, a.seenOK = clone(a.state), true
	back := a.fallingBack
	a.fallingBack = false
	s.mu.Unlock()
	if back {
		s.log.Info("shared API budget reachable again", "key", key)
	}
}

func (s *Store) warnSkew(key string, a *account) {
	s.mu.Lock()
	first := !a.skewWarned
	a.skewWarned = true
	s.mu.Unlock()
	if first {
		s.log.Warn("shared API budget: a stored schedule ran minutes ahead of this clock and was reset; check the clocks of the pods",
			"key", key)
	}
}

// Usage is the account's calls in window across the processes that share
// it, as of this process's last booking on key.
func (s *Store) Usage(key string, window time.Duration) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.keys[key]
	if a == nil || !a.seenOK {
		return 0, false
	}
	return a.seen.Used(s.now(), window), true
}

var _ gcra.Shared = (*Store)(nil)
