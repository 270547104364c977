package logging

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
)

// countingHandler counts the WithAttrs calls that reach the real handler.
type countingHandler struct {
	slog.Handler
	withAttrs *int
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	*h.withAttrs++
	return countingHandler{h.Handler.WithAttrs(attrs), h.withAttrs}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(name), h.withAttrs}
}

// TestLazyWritesWhatWithWould: a lazy logger writes the same line as With,
// redaction included, and hands its attributes to the handler only when a
// record is written.
func TestLazyWritesWhatWithWould(t *testing.T) {
	cases := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"plain", func(l *slog.Logger) { l.Warn("failed", "attempt", 3) }},
		{"more attrs", func(l *slog.Logger) { l.With("object", "contact").Warn("failed", "n", 1) }},
		{"a group after the attrs", func(l *slog.Logger) { l.WithGroup("g").Warn("failed", "n", 1) }},
		{"redacted", func(l *slog.Logger) { l.With("email", "a@example.com").Error("x") }},
	}
	attrs := []slog.Attr{slog.String(KeyStage, "resolver"), slog.Uint64("stream_seq", 7), slog.String("refresh_token", "s3cr3t")}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			eager := New(Config{Level: Level(slog.LevelInfo), Format: FormatJSON}, &want)
			lazy := New(Config{Level: Level(slog.LevelInfo), Format: FormatJSON}, &got)
			args := make([]any, len(attrs))
			for i, a := range attrs {
				args[i] = a
			}
			tc.log(eager.With(args...))
			tc.log(Lazy(Lazy(lazy, attrs[:1]...), attrs[1:]...))
			// The times differ; the rest must not.
			if w, g := dropTime(t, want.Bytes()), dropTime(t, got.Bytes()); w != g {
				t.Errorf("lazy wrote\n%s\nWith wrote\n%s", g, w)
			}
		})
	}

	n := 0
	base := slog.New(countingHandler{New(Config{Level: Level(slog.LevelWarn), Format: FormatJSON}, &bytes.Buffer{}).Handler(), &n})
	l := Lazy(base, attrs...).With("more", 1)
	l.Info("below the level")
	if n != 0 {
		t.Fatalf("attributes rendered %d times for a record below the level", n)
	}
	l.Warn("one")
	l.Warn("two")
	if n != 1 {
		t.Fatalf("attributes rendered %d times for two records, want once", n)
	}
	if !l.Enabled(context.Background(), slog.LevelWarn) || l.Enabled(context.Background(), slog.LevelInfo) {
		t.Fatal("Enabled does not follow the handler's level")
	}
}

func dropTime(t *testing.T, line []byte) string {
	t.Helper()
	if i, j := bytes.Index(line, []byte(`"time":"`)), bytes.Index(line, []byte(`","level"`)); i >= 0 && j > i {
		return string(line[:i]) + string(line[j+2:])
	}
	t.Fatalf("no time in %s", line)
	return ""
}
