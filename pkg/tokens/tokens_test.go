package tokens_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/services/sim/quickbooks"
	"github.com/ledgersync/ledgersync/streams"
)

func newKey(t *testing.T) config.Secret {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return config.Secret(base64.StdEncoding.EncodeToString(b))
}

type env struct {
	kv    jetstream.KeyValue
	key   config.Secret
	crypt *tokens.Crypter
	store *tokens.Store
	qbo   *oauth2.Config
}

// setup gives a tokens bucket on a real JetStream server and a QBO
// simulator that rotates the refresh token on every refresh.
func setup(t *testing.T) env {
	t.Helper()
	ns := testutil.StartJetStreamWithTopology(t, nil)
	kv, err := ns.JS.KeyValue(context.Background(), streams.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	crypt, err := tokens.NewCrypter(tokens.KeyConfig{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	cfg := quickbooks.DefaultConfig()
	cfg.RefreshRotation = 0
	sim, err := quickbooks.New(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return env{kv: kv, key: key, crypt: crypt, store: tokens.NewStore(kv, crypt), qbo: &oauth2.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/oauth2/v1/tokens/bearer", AuthStyle: oauth2.AuthStyleInHeader},
	}}
}

func (e env) refresher(calls *atomic.Int32) tokens.Refresher {
	return func(ctx context.Context, rt string) (*oauth2.Token, error) {
		calls.Add(1)
		return e.qbo.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}
}

func expired(refresh string) tokens.Record {
	return tokens.Record{Connection: "conn-1", System: streams.SystemQBO, AccountID: "9130350000000001",
		AccessToken: "old-access", RefreshToken: refresh, Expiry: time.Now().Add(-time.Minute)}
}

func TestExpiredTokenIsRefreshedOnceAcrossReplicasAndSavedFirst(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if err := e.store.Put(ctx, expired("sim-refresh")); err != nil {
		t.Fatal(err)
	}
	// Five replicas (own store instances, same bucket and key) ask at once.
	var calls atomic.Int32
	var wg sync.WaitGroup
	got := make([]string, 5)
	errs := make([]error, 5)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replica := tokens.NewStore(e.kv, e.crypt)
			tok, err := replica.TokenSource("conn-1", streams.SystemQBO, e.refresher(&calls)).Token()
			if err == nil {
				got[i] = tok.AccessToken
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		if got[i] == "" || got[i] != got[0] || got[i] == "old-access" {
			t.Fatalf("replica %d got %q, replica 0 %q", i, got[i], got[0])
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d refreshes, want exactly 1", n)
	}
	rec, _, err := e.store.Get(ctx, "conn-1", streams.SystemQBO)
	if err != nil {
		t.Fatal(err)
	}
	if rec.AccessToken != got[0] || rec.RefreshToken == "sim-refresh" || rec.RefreshToken == "" {
		t.Fatalf("stored record not the rotated one: access saved=%v, refresh rotated=%v", rec.AccessToken == got[0], rec.RefreshToken != "sim-refresh")
	}
	if rec.RefreshExpiry.Before(time.Now().Add(24 * time.Hour)) {
		t.Fatalf("x_refresh_token_expires_in not recorded: %v", rec.RefreshExpiry)
	}
	if rec.Status != tokens.StatusOK || rec.RefreshingBy != "" {
		t.Fatalf("record left as %s claimed by %q", rec.Status, rec.RefreshingBy)
	}
	// The saved, rotated refresh token is the one that works next time.
	rec.Expiry = time.Now().Add(-time.Second)
	if err := e.store.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.TokenSource("conn-1", streams.SystemQBO, e.refresher(&calls)).Token(); err != nil {
		t.Fatalf("refresh with the saved rotated token: %v", err)
	}
}

func TestRefusedRefreshMarksNeedsReconnectAndRecordsWait(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if err := e.store.Put(ctx, expired("revoked-or-unknown")); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	ts := e.store.TokenSource("conn-1", streams.SystemQBO, e.refresher(&calls))
	_, err := ts.Token()
	if syncerr.CodeOf(err) != tokens.CodeNeedsReconnect {
		t.Fatalf("got %v, want %s", err, tokens.CodeNeedsReconnect)
	}
	if !syncerr.IsRetryable(err) || syncerr.RetryAfterOf(err) <= 0 {
		t.Fatal("records must wait (retryable with a delay), not fail")
	}
	rec, _, _ := e.store.Get(ctx, "conn-1", streams.SystemQBO)
	if rec.Status != tokens.StatusNeedsReconnect || rec.Reason == "" {
		t.Fatalf("state not visible: %s %q", rec.Status, rec.Reason)
	}
	// No more refresh attempts until a reconnect.
	if _, err := ts.Token(); syncerr.CodeOf(err) != tokens.CodeNeedsReconnect {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d refresh attempts, want 1", n)
	}
}

func TestTokensAreEncryptedAtRestAndBoundToTheirKey(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	rec := tokens.Record{Connection: "conn-1", System: streams.SystemHubSpot, AccessToken: "pat-na1-very-secret", AccountID: "4000001"}
	if err := e.store.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	raw, err := e.kv.Get(ctx, tokens.Key("conn-1", streams.SystemHubSpot))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw.Value(), []byte("pat-na1-very-secret")) || bytes.Contains(raw.Value(), []byte("4000001")) {
		t.Fatal("plaintext in the bucket")
	}
	// A value copied under another connection's key does not open.
	if _, err := e.kv.Put(ctx, tokens.Key("conn-2", streams.SystemHubSpot), raw.Value()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.Get(ctx, "conn-2", streams.SystemHubSpot); !errors.Is(err, tokens.ErrUndecryptable) {
		t.Fatalf("copied value opened: %v", err)
	}
	// A private-app token has no expiry and is handed out as is.
	tok, err := e.store.TokenSource("conn-1", streams.SystemHubSpot, nil).Token()
	if err != nil || tok.AccessToken != "pat-na1-very-secret" {
		t.Fatalf("%v %v", tok, err)
	}
	// Another key cannot read it; after a rotation the previous key still can.
	next := newKey(t)
	other, _ := tokens.NewCrypter(tokens.KeyConfig{Key: next})
	if _, _, err := tokens.NewStore(e.kv, other).Get(ctx, "conn-1", streams.SystemHubSpot); !errors.Is(err, tokens.ErrUndecryptable) {
		t.Fatalf("wrong key opened it: %v", err)
	}
	rotated, err := tokens.NewCrypter(tokens.KeyConfig{Key: next, PreviousKeys: e.key})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := tokens.NewStore(e.kv, rotated).Get(ctx, "conn-1", streams.SystemHubSpot); err != nil || got.AccessToken != "pat-na1-very-secret" {
		t.Fatalf("previous key did not open it after rotation: %v", err)
	}
}

func TestKeyValidationNamesTheVariable(t *testing.T) {
	var k tokens.KeyConfig
	err := config.Load(context.Background(), mapLookuper{"SYNC_TOKEN_KEY": "too-short", "SYNC_TOKEN_KEY_PREVIOUS": "x"}, &k)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("got %v", err)
	}
	err = config.Load(context.Background(), mapLookuper{}, &k)
	if !errors.As(err, &ce) || ce.Problems[0].Variable != "SYNC_TOKEN_KEY" {
		t.Fatalf("missing key not named: %v", err)
	}
}

type mapLookuper map[string]string

func (m mapLookuper) Lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }
