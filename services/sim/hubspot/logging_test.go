package hubspot

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsCarryNoSecretsOrPersonalData runs requests full of e-mail
// addresses and tokens with debug logging and checks the log.
func TestLogsCarryNoSecretsOrPersonalData(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := DefaultConfig()
	cfg.Token = "pat-na1-secret-token"
	cfg.Seed = "demo"
	s, err := New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	e := &env{t: t, s: s, base: srv.URL, token: cfg.Token}
	e.create("contacts", map[string]any{"email": "private.person@example.com", "firstname": "Secretname"})
	e.do("GET", "/crm/v3/objects/contacts/"+url.PathEscape("private.person@example.com")+"?idProperty=email", nil)
	e.do("POST", "/crm/v3/objects/contacts", map[string]any{"properties": map[string]any{"email": "private.person@example.com"}})
	e.doAuth("GET", "/crm/v3/objects/contacts", nil, "wrong-token-value")
	e.do("POST", "/_sim/faults", map[string]any{"status": 500, "count": 1})
	e.do("GET", "/crm/v3/objects/contacts", nil)

	out := buf.String()
	if !strings.Contains(out, `"route":"GET /crm/v3/objects/{objectType}/{id}"`) || !strings.Contains(out, `"correlation_id"`) {
		t.Fatalf("expected access log lines with the route pattern:\n%s", out)
	}
	for _, secret := range []string{"private.person", "Secretname", "pat-na1-secret-token", "wrong-token-value", "sim-hs-secret", "birchwooddental"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}
