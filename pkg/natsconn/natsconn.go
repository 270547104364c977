// Package natsconn connects to NATS (an external cluster or a server embedded
// in the process) the same way for every service.
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/ledgersync/ledgersync/pkg/config"
)

// EmbeddedOptions configure the server syncd runs in-process for -target=all.
type EmbeddedOptions struct {
	StoreDir    string // JetStream file store
	Listen      string // host:port for clients (the nats CLI can look in); port 0 picks one
	MonitorAddr string // host:port of the HTTP monitoring endpoint; empty disables it
	// MaxStore is the JetStream file storage in bytes; 0 leaves the
	// server's default, three quarters of the free disk.
	MaxStore int64
}

// StartEmbedded starts a JetStream-enabled server and waits until it accepts
// connections.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats listen address %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "syncd-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
	}
	if o.MaxStore > 0 {
		opts.JetStreamMaxStore = o.MaxStore
	}
	if o.MonitorAddr != "" {
		mh, mp, err := net.SplitHostPort(o.MonitorAddr)
		if err != nil {
			return nil, fmt.Errorf("embedded nats monitor address %q: %w", o.MonitorAddr, err)
		}
		opts.HTTPHost = mh
		if opts.HTTPPort, err = strconv.Atoi(mp); err != nil {
			return nil, fmt.Errorf("embedded nats monitor port %q: %w", mp, err)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats did not become ready within 10s (is the port taken? set SYNC_NATS_LISTEN)")
	}
	return ns, nil
}

// Connect opens a connection that reconnects forever and logs state changes.
//
// NATS_URL may list several servers of a cluster, comma separated; the
// client also learns the other members from the server it reaches. When its
// server goes away it moves to another one at once (ReconnectWait only
// spaces attempts on the same server), and pings every 10 s so a server that
// vanished without closing the connection is noticed within half a minute.
func Connect(cfg config.NATS, name string, logger *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(cfg.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("nats reconnected", "server", c.ConnectedUrlRedacted()) }),
		// Asynchronous errors (a slow consumer dropping messages, a
		// permission refused) go to the log instead of stderr.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Warn("nats error", "subject", subject, "err", err)
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS_URL: %w", err)
	}
	return nc, nil
}
