// Command syncd is the one binary of ledgersync. `syncd run -target=all`
// runs every service in one process with NATS embedded; `syncd run
// -target=activitysink` (or any list) runs only those services against
// NATS_URL. Operator verbs live on the same binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-envconfig"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/natsconn"
	"github.com/ledgersync/ledgersync/streams"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `syncd: the ledgersync engine

usage:
  syncd run -target=all|<target>[,<target>...]   run services (all: in one process, NATS embedded)
  syncd streams ensure                            create or update streams, consumers and KV buckets on NATS_URL
  syncd streams export [-replicas N]              print the NATS topology as JSON
  syncd targets                                   list the targets
  syncd probe live|ready                          exit 0 when this container's syncd answers /healthz or /readyz
  syncd version
  syncd replay|dlq|backfill ...                   operator verbs on NATS_URL (below)
` + opsUsage + `
configuration comes from the environment; see .env.example.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], envconfig.OsLookuper(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain is main without the process: tests call it directly.
func runMain(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], env, stderr)
	case "streams":
		err = cmdStreams(ctx, args[1:], env, stdout, stderr)
	case "targets":
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "all\tevery service below marked *, in one process with NATS embedded")
		for _, m := range modules {
			if m.public {
				mark := ""
				if m.inAll {
					mark = " *"
				}
				fmt.Fprintf(w, "%s%s\t%s\n", m.name, mark, m.description)
			}
		}
		err = w.Flush()
	case "replay":
		err = cmdReplay(ctx, args[1:], env, stdout, stderr)
	case "dlq":
		err = cmdDLQ(ctx, args[1:], env, stdout, stderr)
	case "backfill":
		err = cmdBackfill(ctx, args[1:], env, stdout, stderr)
	case "probe":
		err = cmdProbe(ctx, args[1:], env)
	case "version":
		fmt.Fprintln(stdout, version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError(fmt.Sprintf("unknown command %q", args[0]))
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "syncd:", err)
	var ue usageError
	var ce *config.Error
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return 2
	}
	return 1
}

type usageError string

func (u usageError) Error() string { return string(u) + "\n\n" + usage }

func cmdRun(ctx context.Context, args []string, env envconfig.Lookuper, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "all", "comma-separated targets: "+strings.Join(publicTargets(), ", "))
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	a, order, err := loadApp(ctx, *target, env)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return err
		}
		return usageError(err.Error())
	}
	a.logger = logging.New(a.run.Log, stderr)
	a.logger.Info("syncd starting", "syncd_version", version, "targets", *target, "embedded_nats", a.embedded)
	defer a.close()

	ln, err := net.Listen("tcp", a.run.HTTPAddr)
	if err != nil {
		return fmt.Errorf("SYNC_HTTP_ADDR %s: %w", a.run.HTTPAddr, err)
	}
	srv := &http.Server{Handler: a.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	a.logger.Info("probes and metrics listening", "addr", ln.Addr().String())
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	services, err := a.start(ctx, order)
	if err != nil {
		return err
	}
	a.started.Store(true)
	err = a.serve(ctx, services)
	a.logger.Info("syncd stopped")
	return err
}

func cmdStreams(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("streams needs ensure or export")
	}
	fs := flag.NewFlagSet("streams "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	replicas := fs.Int("replicas", 0, "replicas for streams and buckets (default NATS_REPLICAS)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError(err.Error())
	}
	var cfg struct {
		Log  logging.Config
		NATS config.NATS `env:", prefix=NATS_"`
	}
	if err := config.Load(ctx, env, &cfg); err != nil {
		return err
	}
	if *replicas == 0 {
		*replicas = cfg.NATS.Replicas
	}
	topo := streams.Default(*replicas)
	topo.LimitStreamBytes(cfg.NATS.StreamMaxBytes)
	switch args[0] {
	case "export":
		return streams.Export(stdout, topo)
	case "ensure":
		if cfg.NATS.URL == "" {
			return &config.Error{Problems: []config.Problem{{Variable: "NATS_URL", Reason: "required to ensure streams"}}}
		}
		logger := logging.New(cfg.Log, stderr)
		nc, err := natsconn.Connect(cfg.NATS, "syncd-streams-ensure", logger)
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		changes, err := streams.Ensure(ctx, js, topo)
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KIND\tNAME\tACTION")
		for _, c := range changes {
			fmt.Fprintf(w, "%s\t%s\t%s\n", c.Kind, c.Name, c.Action)
		}
		_ = w.Flush()
		return err
	default:
		return usageError(fmt.Sprintf("unknown streams command %q", args[0]))
	}
}

// cmdProbe is the container healthcheck: the image has no shell or curl.
func cmdProbe(ctx context.Context, args []string, env envconfig.Lookuper) error {
	path := "/readyz"
	if len(args) > 0 && args[0] == "live" {
		path = "/healthz"
	} else if len(args) > 0 && args[0] != "ready" {
		return usageError(fmt.Sprintf("probe takes live or ready, not %q", args[0]))
	}
	var cfg struct {
		HTTPAddr string `env:"SYNC_HTTP_ADDR, default=127.0.0.1:8080"`
	}
	if err := config.Load(ctx, env, &cfg); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("SYNC_HTTP_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("%s answered %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
