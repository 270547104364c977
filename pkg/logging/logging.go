// Package logging builds the process logger (tint for terminals, JSON
// otherwise), carries a logger in the context with the pipeline's standard
// keys, and redacts secrets and personal data by key as a last line of
// defence: code should not log them in the first place.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
)

// Standard keys, snake_case, used by every stage.
const (
	KeyConnection = "connection"
	KeyObject     = "object"
	KeyStage      = "stage"
	KeyMessageID  = "msg_id"
	KeyError      = "err"
	KeyErrorCode  = "error_code"
)

// Config is the logging block: LOG_LEVEL and LOG_FORMAT.
type Config struct {
	// Level is debug, info, warn or error.
	Level Level `env:"LOG_LEVEL, default=info"`
	// Format is auto (tint on a terminal, JSON otherwise), text or json.
	Format Format `env:"LOG_FORMAT, default=auto"`
}

// Level is a slog level that names the accepted values when it cannot parse.
type Level slog.Level

// UnmarshalText accepts debug, info, warn and error.
func (l *Level) UnmarshalText(b []byte) error {
	var sl slog.Level
	if err := sl.UnmarshalText(b); err != nil {
		return fmt.Errorf("%q is not debug, info, warn or error", string(b))
	}
	*l = Level(sl)
	return nil
}

// Format selects the handler.
type Format string

const (
	FormatAuto Format = "auto"
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// UnmarshalText lets go-envconfig reject unknown formats at start.
func (f *Format) UnmarshalText(b []byte) error {
	switch v := Format(strings.ToLower(string(b))); v {
	case FormatAuto, FormatText, FormatJSON:
		*f = v
		return nil
	default:
		return fmt.Errorf("%q is not auto, text or json", string(b))
	}
}

// New returns a logger writing to w. A *os.File that is a terminal gets tint
// in auto mode.
func New(cfg Config, w io.Writer) *slog.Logger {
	format := cfg.Format
	if format == FormatAuto || format == "" {
		format = FormatJSON
		if isTerminal(w) {
			format = FormatText
		}
	}
	var h slog.Handler
	switch format {
	case FormatText:
		h = tint.NewHandler(w, &tint.Options{
			Level:       slog.Level(cfg.Level),
			TimeFormat:  time.TimeOnly,
			ReplaceAttr: redact,
			NoColor:     !isTerminal(w),
		})
	default:
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.Level(cfg.Level), ReplaceAttr: redact})
	}
	return slog.New(h)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// sensitiveKeys are attribute keys (or key suffixes) whose values are never
// written. Matching is on the last segment of the key, case-insensitive.
var sensitiveKeys = []string{
	"token", "access_token", "refresh_token", "id_token", "secret", "client_secret",
	"password", "passwd", "authorization", "cookie", "api_key", "apikey", "key",
	"creds", "credentials", "signature", "email", "phone", "code",
}

// sensitiveSuffixes catch composed keys like qbo_refresh_token.
var sensitiveSuffixes = []string{"_token", "_secret", "_password", "_key", "_email", "_phone"}

// Redacted is what a sensitive value is replaced with.
const Redacted = "[redacted]"

func redact(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	if IsSensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	return a
}

// IsSensitiveKey reports whether values under key are redacted.
func IsSensitiveKey(key string) bool {
	k := strings.ToLower(key)
	if k == KeyErrorCode {
		return false
	}
	for _, s := range sensitiveKeys {
		if k == s {
			return true
		}
	}
	for _, s := range sensitiveSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// IntoContext stores l in ctx.
func IntoContext(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the context's logger, or slog.Default().
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// With returns a context whose logger carries the extra attributes.
func With(ctx context.Context, args ...any) context.Context {
	return IntoContext(ctx, FromContext(ctx).With(args...))
}

// Discard is a logger that writes nothing, for tests and benchmarks.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
