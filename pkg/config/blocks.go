package config

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Secret is a configuration value that must never reach a log line, an error
// or a JSON document by accident. Reveal returns the value for the one place
// that needs it.
type Secret string

const redacted = "[redacted]"

func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a value was given.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

func (s Secret) GoString() string             { return s.String() }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(s.String()) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// NATS is the shared block for reaching a NATS server (prefix NATS_).
type NATS struct {
	// URL of the NATS server(s), comma separated. Required unless the process
	// embeds its own server (syncd run -target=all).
	URL string `env:"URL"`
	// CredsFile is a NATS credentials file (JWT + nkey), optional.
	CredsFile string `env:"CREDS_FILE"`
	// Replicas of every stream, KV bucket, object store and durable
	// consumer that `syncd streams ensure` (or `syncd run`) creates: 1 for
	// a single server, 3 or 5 for a cluster.
	Replicas int `env:"REPLICAS, default=1"`
	// ConnectTimeout bounds the first connection attempt.
	ConnectTimeout time.Duration `env:"CONNECT_TIMEOUT, default=5s"`
	// StreamMaxBytes caps what each stream keeps on disk (per replica),
	// in bytes; 0 keeps the topology's 10 GiB. JetStream refuses streams
	// whose caps do not fit in a server's storage, so a small server
	// needs a smaller cap. The embedded server (-target=all) fits its
	// streams into its store by itself.
	StreamMaxBytes int64 `env:"STREAM_MAX_BYTES"`
}

func (n *NATS) Validate() []Problem {
	var p []Problem
	if n.Replicas != 1 && n.Replicas != 3 && n.Replicas != 5 {
		p = append(p, Problem{"NATS_REPLICAS", fmt.Sprintf("%d is not 1, 3 or 5", n.Replicas)})
	}
	if n.StreamMaxBytes < 0 || (n.StreamMaxBytes > 0 && n.StreamMaxBytes < 64<<20) {
		p = append(p, Problem{"NATS_STREAM_MAX_BYTES", fmt.Sprintf("%d bytes: give at least 67108864 (64 MiB), or 0 for the default", n.StreamMaxBytes)})
	}
	return p
}

// ClickHouse is the shared block for the activity store (prefix CLICKHOUSE_).
type ClickHouse struct {
	// Addr is host:port of the native protocol (9000). Comma separated for
	// several replicas.
	Addr     string        `env:"ADDR, default=127.0.0.1:9000"`
	Database string        `env:"DATABASE, default=ledgersync"`
	Username string        `env:"USERNAME, default=default"`
	Password Secret        `env:"PASSWORD"`
	Timeout  time.Duration `env:"TIMEOUT, default=10s"`
}

func (c *ClickHouse) Validate() []Problem {
	var p []Problem
	for _, a := range strings.Split(c.Addr, ",") {
		if _, _, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil {
			p = append(p, Problem{"CLICKHOUSE_ADDR", fmt.Sprintf("%q is not host:port", a)})
		}
	}
	if !validIdentifier(c.Database) {
		p = append(p, Problem{"CLICKHOUSE_DATABASE", fmt.Sprintf("%q is not a plain identifier (letters, digits, _)", c.Database)})
	}
	return p
}

// Addrs returns the configured addresses.
func (c ClickHouse) Addrs() []string {
	var out []string
	for _, a := range strings.Split(c.Addr, ",") {
		out = append(out, strings.TrimSpace(a))
	}
	return out
}

func validIdentifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Switch is an on/off setting; anything else is refused at start.
type Switch bool

// EnvDecode accepts on/off (and true/false, 1/0 for scripts).
func (s *Switch) EnvDecode(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "1":
		*s = true
	case "off", "false", "0", "":
		*s = false
	default:
		return fmt.Errorf("%q is not on or off", v)
	}
	return nil
}

// On reports whether the switch is on.
func (s Switch) On() bool { return bool(s) }
