package tokens

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Status of a connection's credentials for one system.
type Status string

const (
	StatusOK             Status = "ok"
	StatusNeedsReconnect Status = "needs_reconnect"
)

// CodeNeedsReconnect is the failure category while a connection waits for a
// user to reconnect it. It is retryable: records wait, they are not failed.
const CodeNeedsReconnect syncerr.Code = "CONNECTION_NEEDS_RECONNECT"

// Record is one connection's credentials for one system, as stored
// (encrypted) in the tokens bucket.
type Record struct {
	Connection   string         `json:"connection"`
	System       streams.System `json:"system"`
	AccountID    string         `json:"account_id"` // QBO realm id or HubSpot portal id
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token,omitempty"` // empty for a private-app token
	TokenType    string         `json:"token_type,omitempty"`
	Expiry       time.Time      `json:"expiry,omitzero"` // zero: does not expire (private app)
	// RefreshExpiry is when the refresh token itself lapses (QBO's
	// x_refresh_token_expires_in), so the UI can warn before it does.
	RefreshExpiry time.Time `json:"refresh_expiry,omitzero"`
	Status        Status    `json:"status"`
	Reason        string    `json:"reason,omitempty"`
	// A replica refreshing the token claims the record first.
	RefreshingBy    string    `json:"refreshing_by,omitempty"`
	RefreshingUntil time.Time `json:"refreshing_until,omitzero"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Token returns the record as an oauth2 token.
func (r Record) Token() *oauth2.Token {
	return &oauth2.Token{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, TokenType: r.TokenType, Expiry: r.Expiry}
}

// Refresher exchanges a refresh token for a new token at the system's token
// endpoint (golang.org/x/oauth2's Config.TokenSource does this).
type Refresher func(ctx context.Context, refreshToken string) (*oauth2.Token, error)

// Store reads and writes records in the tokens bucket.
type Store struct {
	kv       jetstream.KeyValue
	crypt    *Crypter
	instance string
	now      func() time.Time
	// Skew: tokens are refreshed this long before they expire.
	Skew time.Duration
	// ClaimTTL bounds a refresh claim of a replica that died mid-refresh.
	ClaimTTL time.Duration
}

// NewStore returns a store on the tokens bucket.
func NewStore(kv jetstream.KeyValue, crypt *Crypter) *Store {
	return &Store{kv: kv, crypt: crypt, instance: uuid.NewString(), now: time.Now, Skew: 5 * time.Minute, ClaimTTL: 30 * time.Second}
}

// Key is the KV key of a connection's record for system.
func Key(conn string, system streams.System) string { return conn + "." + string(system) }

// Put stores rec (after a connect flow), replacing what was there.
func (s *Store) Put(ctx context.Context, rec Record) error {
	if !streams.ValidToken(rec.Connection) {
		return fmt.Errorf("connection id %q is not valid", rec.Connection)
	}
	if rec.Status == "" {
		rec.Status = StatusOK
	}
	rec.UpdatedAt = s.now().UTC()
	val, err := s.seal(rec)
	if err != nil {
		return err
	}
	_, err = s.kv.Put(ctx, Key(rec.Connection, rec.System), val)
	return err
}

// Get returns the record and its revision.
func (s *Store) Get(ctx context.Context, conn string, system streams.System) (Record, uint64, error) {
	key := Key(conn, system)
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return Record{}, 0, fmt.Errorf("tokens %s: %w", key, err)
	}
	plain, err := s.crypt.Open(e.Value(), []byte(key))
	if err != nil {
		return Record{}, 0, fmt.Errorf("tokens %s: %w", key, err)
	}
	var rec Record
	if err := json.Unmarshal(plain, &rec); err != nil {
		return Record{}, 0, fmt.Errorf("tokens %s: %w", key, err)
	}
	return rec, e.Revision(), nil
}

// Delete removes a connection's record (disconnect).
func (s *Store) Delete(ctx context.Context, conn string, system streams.System) error {
	return s.kv.Delete(ctx, Key(conn, system))
}

// MarkNeedsReconnect records that the other side refused the credentials.
func (s *Store) MarkNeedsReconnect(ctx context.Context, conn string, system streams.System, reason string) error {
	for {
		rec, rev, err := s.Get(ctx, conn, system)
		if err != nil {
			return err
		}
		rec.Status, rec.Reason, rec.RefreshingBy, rec.RefreshingUntil = StatusNeedsReconnect, reason, "", time.Time{}
		if _, err := s.update(ctx, rec, rev); err == nil || !isCASConflict(err) {
			return err
		}
	}
}

func (s *Store) seal(rec Record) ([]byte, error) {
	plain, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return s.crypt.Seal(plain, []byte(Key(rec.Connection, rec.System))), nil
}

func (s *Store) update(ctx context.Context, rec Record, rev uint64) (uint64, error) {
	rec.UpdatedAt = s.now().UTC()
	val, err := s.seal(rec)
	if err != nil {
		return 0, err
	}
	return s.kv.Update(ctx, Key(rec.Connection, rec.System), val, rev)
}

// isCASConflict reports a lost compare-and-set (codes 10071 and, on
// replicated buckets, 10164 both map to ErrKeyRevisionMismatch).
func isCASConflict(err error) bool { return errors.Is(err, jetstream.ErrKeyRevisionMismatch) }

// ErrNeedsReconnect is returned while a connection waits for a reconnect.
func errNeedsReconnect(rec Record) error {
	return syncerr.Wait(CodeNeedsReconnect, time.Minute,
		fmt.Errorf("%s credentials of connection %s were refused (%s): reconnect it in the app", rec.System, rec.Connection, rec.Reason))
}

// TokenSource returns a source of valid access tokens for the connection.
// It is safe for concurrent use and shares refreshes across replicas
// through the bucket.
func (s *Store) TokenSource(conn string, system streams.System, refresh Refresher) oauth2.TokenSource {
	return &source{store: s, conn: conn, system: system, refresh: refresh}
}

type source struct {
	store   *Store
	conn    string
	system  streams.System
	refresh Refresher
}

// Token implements oauth2.TokenSource. oauth2 gives it no context; the
// refresh is bounded by its own timeout.
func (src *source) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	return src.store.token(ctx, src.conn, src.system, src.refresh)
}

func (s *Store) token(ctx context.Context, conn string, system streams.System, refresh Refresher) (*oauth2.Token, error) {
	for {
		rec, rev, err := s.Get(ctx, conn, system)
		if err != nil {
			return nil, syncerr.Transient(syncerr.CodeUnavailable, err)
		}
		now := s.now()
		switch {
		case rec.Status == StatusNeedsReconnect:
			return nil, errNeedsReconnect(rec)
		case rec.Expiry.IsZero() || rec.Expiry.Sub(now) > s.Skew:
			return rec.Token(), nil
		case rec.RefreshToken == "":
			return nil, errNeedsReconnect(Record{System: system, Connection: conn, Reason: "access token expired and there is no refresh token"})
		case rec.RefreshingBy != "" && rec.RefreshingBy != s.instance && now.Before(rec.RefreshingUntil):
			// Another replica is refreshing: wait for its result.
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil, syncerr.Transient(syncerr.CodeTimeout, err)
			}
			continue
		}
		claimed := rec
		claimed.RefreshingBy, claimed.RefreshingUntil = s.instance, now.Add(s.ClaimTTL)
		claimRev, err := s.update(ctx, claimed, rev)
		if isCASConflict(err) {
			continue // someone else moved first; read again
		}
		if err != nil {
			return nil, syncerr.Transient(syncerr.CodeUnavailable, err)
		}
		return s.refreshClaimed(ctx, rec, claimRev, refresh)
	}
}

// refreshClaimed runs the refresh the claim won and saves the result before
// anyone uses it: a rotated refresh token must never exist only in memory.
func (s *Store) refreshClaimed(ctx context.Context, rec Record, claimRev uint64, refresh Refresher) (*oauth2.Token, error) {
	tok, err := refresh(ctx, rec.RefreshToken)
	if err != nil {
		if IsRefused(err) {
			rec.Status, rec.Reason = StatusNeedsReconnect, refusalReason(err)
			rec.RefreshingBy, rec.RefreshingUntil = "", time.Time{}
			if _, uerr := s.update(ctx, rec, claimRev); uerr != nil {
				return nil, syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("save needs-reconnect state: %w", uerr))
			}
			return nil, errNeedsReconnect(rec)
		}
		rec.RefreshingBy, rec.RefreshingUntil = "", time.Time{}
		_, _ = s.update(ctx, rec, claimRev) // release the claim; it also expires on its own
		return nil, syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("refresh %s token: %w", rec.System, err))
	}
	next := rec
	next.AccessToken, next.Expiry = tok.AccessToken, tok.Expiry
	if tok.TokenType != "" {
		next.TokenType = tok.TokenType
	}
	if tok.RefreshToken != "" {
		next.RefreshToken = tok.RefreshToken
	}
	next.Status, next.Reason, next.RefreshingBy, next.RefreshingUntil = StatusOK, "", "", time.Time{}
	// QBO says how long the (possibly rotated) refresh token lives.
	if secs, ok := tok.Extra("x_refresh_token_expires_in").(float64); ok && secs > 0 {
		next.RefreshExpiry = s.now().Add(time.Duration(secs) * time.Second).UTC()
	}
	var saveErr error
	for attempt := 0; attempt < 5; attempt++ {
		if _, saveErr = s.update(ctx, next, claimRev); saveErr == nil {
			return next.Token(), nil
		}
		if isCASConflict(saveErr) {
			break // our claim was taken over after it expired
		}
		if err := sleep(ctx, time.Duration(attempt+1)*200*time.Millisecond); err != nil {
			break
		}
	}
	// Not saved: do not use it. The previous refresh token stays valid for
	// the provider's grace period, so the next attempt refreshes again.
	return nil, syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("save refreshed %s token: %w", rec.System, saveErr))
}

// IsRefused reports a refresh the provider refused for good (revoked,
// expired or rotated-out refresh token, or a wrong client), as opposed to a
// network or server failure worth retrying.
func IsRefused(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	switch re.ErrorCode {
	case "invalid_grant", "invalid_client", "unauthorized_client":
		return true
	}
	body := string(re.Body)
	if strings.Contains(body, "BAD_REFRESH_TOKEN") || strings.Contains(body, "BAD_CLIENT_ID") || strings.Contains(body, "invalid_grant") {
		return true
	}
	return re.Response != nil && (re.Response.StatusCode == 400 || re.Response.StatusCode == 401)
}

func refusalReason(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return "refresh refused: " + re.ErrorCode
	}
	return "refresh refused"
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Records returns every connection's records (decrypted), for the health
// metrics. A record that cannot be read is skipped and reported in err;
// the others are still returned.
func (s *Store) Records(ctx context.Context) ([]Record, error) {
	keys, err := s.kv.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: list: %w", err)
	}
	var out []Record
	var errs []error
	for key := range keys.Keys() {
		conn, system, ok := strings.Cut(key, ".")
		if !ok {
			continue
		}
		rec, _, err := s.Get(ctx, conn, streams.System(system))
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		out = append(out, rec)
	}
	return out, errors.Join(errs...)
}
