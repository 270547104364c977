package qbo_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/qbo"
)

// lockedBuffer is a concurrency-safe log sink.
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

func TestLogsCarryNoTokensOrPersonalData(t *testing.T) {
	e := newEnv(t, envOpts{})
	var buf lockedBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := e.newClient(e.ts, qbo.WithBudget(generous()), qbo.WithLogger(log))
	cx := ctx(t)
	const name, email = "Grace Hopper", "grace@navy.example"
	cu := must[*qbo.Customer](t)(c.CreateCustomer(cx, &qbo.Customer{DisplayName: name, PrimaryEmailAddr: &qbo.EmailAddress{Address: email}}))
	_, _ = c.CreateCustomer(cx, &qbo.Customer{DisplayName: name})
	_, _ = c.Query(cx, "SELECT * FROM Customer WHERE PrimaryEmailAddr = "+qbo.Quote(email))
	e.ctl("POST", "/_sim/faults", `{"status":503,"count":1,"path_contains":"customer"}`)
	must[*qbo.Customer](t)(c.GetCustomer(cx, cu.ID))
	bad := e.newClient(staticToken("secret-access-token-value"), qbo.WithBudget(generous()), qbo.WithLogger(log))
	_, _ = bad.GetCustomer(cx, cu.ID)

	tok, err := e.ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if out == "" {
		t.Fatal("nothing logged")
	}
	for _, secret := range []string{tok.AccessToken, "secret-access-token-value", e.cfg.RefreshToken, name, email, "Grace"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log holds %q:\n%s", secret, out)
		}
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		for k := range m {
			if !snake.MatchString(k) {
				t.Fatalf("key %q is not snake_case: %s", k, line)
			}
		}
	}
	for _, want := range []string{`"error_code":"QBO_DUPLICATE_NAME"`, `"error_code":"AUTH_EXPIRED"`, `"msg":"qbo request retried"`, `"intuit_tid"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %s:\n%s", want, out)
		}
	}
}
