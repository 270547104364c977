package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ledgersync/ledgersync/pkg/config"
)

func TestSecretsNeverReachTheLog(t *testing.T) {
	const secret = "s3cr3t-refresh-AB11xyz"
	type tokenConfig struct {
		ClientID     string
		ClientSecret config.Secret
	}
	cases := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"secret type as attr", func(l *slog.Logger) { l.Info("connecting", "password", config.Secret(secret)) }},
		{"secret type under a harmless key", func(l *slog.Logger) { l.Info("connecting", "value", config.Secret(secret)) }},
		{"secret inside a struct", func(l *slog.Logger) {
			l.Info("config", "oauth", tokenConfig{ClientID: "abc", ClientSecret: config.Secret(secret)})
		}},
		{"refresh token by key", func(l *slog.Logger) { l.Info("refreshed", "refresh_token", secret) }},
		{"composed token key", func(l *slog.Logger) { l.Info("refreshed", "qbo_access_token", secret) }},
		{"authorization header", func(l *slog.Logger) { l.Warn("request", "authorization", "Bearer "+secret) }},
		{"email is personal data", func(l *slog.Logger) { l.Info("contact", "email", secret+"@example.com") }},
		{"in a group", func(l *slog.Logger) { l.WithGroup("oauth").Info("x", "client_secret", secret) }},
		{"with attrs", func(l *slog.Logger) { l.With("token", secret).Info("x") }},
	}
	for _, format := range []Format{FormatJSON, FormatText} {
		for _, tc := range cases {
			t.Run(string(format)+"/"+tc.name, func(t *testing.T) {
				var buf bytes.Buffer
				tc.log(New(Config{Level: Level(slog.LevelDebug), Format: format}, &buf))
				if buf.Len() == 0 {
					t.Fatal("nothing was logged")
				}
				if strings.Contains(buf.String(), secret) {
					t.Fatalf("secret in log line: %s", buf.String())
				}
			})
		}
	}
}

func TestErrorCodesAndIDsAreNotRedacted(t *testing.T) {
	var buf bytes.Buffer
	l := New(Config{Format: FormatJSON}, &buf)
	l.Info("failed", KeyErrorCode, "QBO_DUPLICATE_NAME", KeyMessageID, "m-1", KeyConnection, "c1")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec[KeyErrorCode] != "QBO_DUPLICATE_NAME" || rec[KeyMessageID] != "m-1" || rec[KeyConnection] != "c1" {
		t.Fatalf("useful fields lost: %v", rec)
	}
}

func TestContextLoggerCarriesPipelineKeys(t *testing.T) {
	var buf bytes.Buffer
	ctx := IntoContext(context.Background(), New(Config{Format: FormatJSON}, &buf))
	ctx = With(ctx, KeyConnection, "conn-1", KeyObject, "contact", KeyStage, "transformer", KeyMessageID, "msg-9")
	FromContext(ctx).Error("handler failed", KeyError, errors.New("boom"))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{KeyConnection: "conn-1", KeyObject: "contact", KeyStage: "transformer", KeyMessageID: "msg-9", KeyError: "boom"} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %s", k, rec[k], want)
		}
	}
}

func TestFormatRejectsUnknown(t *testing.T) {
	var f Format
	if err := f.UnmarshalText([]byte("yaml")); err == nil {
		t.Fatal("yaml accepted")
	}
}
