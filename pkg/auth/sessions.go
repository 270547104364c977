package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"
)

// Session is one signed-in browser. The cookie holds a random id; the
// bucket holds only its hash, so reading the bucket gives no session away.
type Session struct {
	UserID    string    `json:"user_id"`
	CSRF      string    `json:"csrf"` // sent back with every form and unsafe request
	CreatedAt time.Time `json:"created_at"`
}

// Sessions keeps sessions in a KV bucket whose TTL is their lifetime.
type Sessions struct {
	kv jetstream.KeyValue
}

// NewSessions returns the session store on the sessions bucket.
func NewSessions(kv jetstream.KeyValue) *Sessions { return &Sessions{kv: kv} }

// Start makes a new session for a user and returns its id (the cookie
// value). A login always starts a new session: an id planted before the
// login (session fixation) never becomes signed in.
func (s *Sessions) Start(ctx context.Context, userID string, now time.Time) (string, Session, error) {
	id := randomText(32)
	sess := Session{UserID: userID, CSRF: randomText(32), CreatedAt: now.UTC()}
	body, _ := json.Marshal(sess)
	if _, err := s.kv.Create(ctx, "s."+digest(id), body); err != nil {
		return "", Session{}, err
	}
	return id, sess, nil
}

// Get reads the session of a cookie value.
func (s *Sessions) Get(ctx context.Context, id string) (Session, error) {
	if len(id) != 64 {
		return Session{}, ErrNotFound
	}
	e, err := s.kv.Get(ctx, "s."+digest(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, err
	}
	var sess Session
	if err := json.Unmarshal(e.Value(), &sess); err != nil {
		return Session{}, err
	}
	return sess, nil
}

// End signs a session out.
func (s *Sessions) End(ctx context.Context, id string) error {
	err := s.kv.Purge(ctx, "s."+digest(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// CSRFMatches compares a submitted token with the session's, in constant time.
func (sess Session) CSRFMatches(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) == 1
}

// LoginThrottle slows password guessing: each email and each client
// address gets a few attempts, then one more every so often.
type LoginThrottle struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	buckets map[string]*throttleBucket
}

type throttleBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewLoginThrottle allows burst attempts per key, then one per interval.
func NewLoginThrottle(burst int, interval time.Duration) *LoginThrottle {
	return &LoginThrottle{every: rate.Every(interval), burst: burst, buckets: map[string]*throttleBucket{}}
}

// Allow reports whether an attempt for every key may go now; a refused
// attempt says how long to wait.
func (t *LoginThrottle) Allow(now time.Time, keys ...string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buckets) > 100_000 {
		for k, b := range t.buckets { // forget keys idle for an hour
			if now.Sub(b.seen) > time.Hour {
				delete(t.buckets, k)
			}
		}
	}
	var wait time.Duration
	for _, k := range keys {
		b := t.buckets[k]
		if b == nil {
			b = &throttleBucket{lim: rate.NewLimiter(t.every, t.burst)}
			t.buckets[k] = b
		}
		b.seen = now
		if r := b.lim.ReserveN(now, 1); r.DelayFrom(now) > 0 {
			wait = max(wait, r.DelayFrom(now))
			r.CancelAt(now)
		}
	}
	return wait == 0, wait
}
