package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-envconfig"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/natsconn"
	"github.com/ledgersync/ledgersync/services/ops"
	"github.com/ledgersync/ledgersync/streams"
)

// The operator verbs replay, dlq and backfill: flags here, the work in
// services/ops. They read NATS_* like `syncd streams ensure`.

const opsUsage = `
  syncd replay --connection C --object O --stage ingested|transformed|resolved
               (--from-time T | --from-seq N) [--to-time T] [--dry-run] [--replay-id ID]
  syncd dlq list     [--connection C] [--object O] [--stage S] [--code CODE] [--since T] [--until T]
  syncd dlq show     --seq N
  syncd dlq redrive  (--seq N[,N...] | filters as for list, at least one) [--dry-run]
  syncd backfill --connection C --object O [--system hubspot|qbo] [--timeout 1h]

  times are RFC 3339 (2026-01-02T15:04:05Z) or a duration back from now (90m)
`

// opsJetStream connects to NATS_URL for an operator verb.
func opsJetStream(ctx context.Context, env envconfig.Lookuper, stderr io.Writer, name string) (*nats.Conn, jetstream.JetStream, error) {
	var cfg struct {
		Log  logging.Config
		NATS config.NATS `env:", prefix=NATS_"`
	}
	if err := config.Load(ctx, env, &cfg); err != nil {
		return nil, nil, err
	}
	if cfg.NATS.URL == "" {
		return nil, nil, &config.Error{Problems: []config.Problem{{Variable: "NATS_URL", Reason: "required for syncd " + name}}}
	}
	nc, err := natsconn.Connect(cfg.NATS, "syncd-"+name, logging.New(cfg.Log, stderr))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// flagTime is a time flag: RFC 3339, or a duration meaning that long ago.
type flagTime struct {
	t   *time.Time
	now func() time.Time
}

func (f flagTime) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f flagTime) Set(s string) error {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		*f.t = t
		return nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		*f.t = f.now().Add(-d)
		return nil
	}
	return fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration back from now (90m)", s)
}

func newOpsFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseOpsFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError(fs.Name() + ": " + err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0)))
	}
	return nil
}

func cmdReplay(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	var o ops.ReplayOptions
	fs := newOpsFlags("replay", stderr)
	var object, stage string
	fs.StringVar(&o.Connection, "connection", "", "connection id")
	fs.StringVar(&object, "object", "", "contact, product, invoice or payment")
	fs.StringVar(&stage, "stage", "", "stream to replay: ingested (re-runs transformer onwards), transformed (resolver onwards), resolved (writer)")
	fs.Var(flagTime{&o.FromTime, time.Now}, "from-time", "replay messages stored at or after this time")
	fs.Uint64Var(&o.FromSeq, "from-seq", 0, "replay from this stream sequence")
	fs.Var(flagTime{&o.ToTime, time.Now}, "to-time", "stop before messages stored at this time (default: what the stream holds now)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "count and list what would be replayed; publish nothing")
	fs.StringVar(&o.ReplayID, "replay-id", "", "id for this replay (default: a new one); the same id again within 15 minutes republishes nothing twice")
	if err := parseOpsFlags(fs, args); err != nil {
		return err
	}
	o.Object, o.Stage = streams.Object(object), streams.Stage(stage)
	if err := o.Validate(); err != nil {
		return usageError("replay: " + strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	nc, js, err := opsJetStream(ctx, env, stderr, "replay")
	if err != nil {
		return err
	}
	defer nc.Close()
	o.Out = stdout
	if o.ReplayID == "" {
		o.ReplayID = ops.NewRunID("rp", time.Now())
	}
	if !o.DryRun {
		fmt.Fprintf(stdout, "replay id: %s\n", o.ReplayID)
	}
	sum, err := ops.Replay(ctx, js, o)
	if err != nil {
		return err
	}
	verb, n := "replayed", sum.Published
	if o.DryRun {
		verb, n = "would replay (dry run, nothing published)", sum.Selected
	}
	fmt.Fprintf(stdout, "%s %d message(s) of %s %s from %s (sequences %d-%d; %d read, %d superseded by a later copy); replay id %s\n",
		verb, n, o.Connection, o.Object, sum.Stream, sum.FirstSeq, sum.LastSeq, sum.Read, sum.Superseded, sum.ReplayID)
	return nil
}

func cmdDLQ(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("dlq needs list, show or redrive")
	}
	verb := args[0]
	switch verb {
	case "list", "show", "redrive":
	default:
		return usageError(fmt.Sprintf("unknown dlq command %q (list, show or redrive)", verb))
	}
	fs := newOpsFlags("dlq "+verb, stderr)
	var f ops.DLQFilter
	var object, seqs string
	var dryRun bool
	fs.StringVar(&f.Connection, "connection", "", "connection id")
	fs.StringVar(&object, "object", "", "contact, product, invoice or payment")
	fs.StringVar(&f.Stage, "stage", "", "the stage that gave up: transformer, resolver, writer, activitysink")
	fs.StringVar(&f.Code, "code", "", "error code, e.g. QBO_DUPLICATE_NAME")
	fs.Var(flagTime{&f.Since, time.Now}, "since", "dead-lettered at or after this time")
	fs.Var(flagTime{&f.Until, time.Now}, "until", "dead-lettered before this time")
	fs.StringVar(&seqs, "seq", "", "DEADLETTER sequence(s), comma-separated")
	if verb == "redrive" {
		fs.BoolVar(&dryRun, "dry-run", false, "list what would be redriven; send nothing")
	}
	if err := parseOpsFlags(fs, args[1:]); err != nil {
		return err
	}
	f.Object = streams.Object(object)
	for _, s := range strings.Split(seqs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return usageError(fmt.Sprintf("dlq %s: --seq %q is not a sequence number", verb, s))
		}
		f.Seqs = append(f.Seqs, n)
	}
	if err := f.Validate(); err != nil {
		return usageError("dlq " + verb + ": " + strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	switch {
	case verb == "show" && len(f.Seqs) != 1:
		return usageError("dlq show: --seq N (one dead letter) is required")
	case verb == "redrive" && len(f.Seqs) == 0 && f.Connection == "" && f.Object == "" && f.Stage == "" && f.Code == "" && f.Since.IsZero() && f.Until.IsZero():
		return usageError("dlq redrive: name what to redrive with --seq or at least one filter (--connection, --object, --stage, --code, --since, --until)")
	}
	nc, js, err := opsJetStream(ctx, env, stderr, "dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	if verb == "redrive" && !dryRun {
		run := ops.NewRunID("rd", time.Now())
		done, err := ops.Redrive(ctx, js, f, run)
		for _, r := range done {
			fmt.Fprintf(stdout, "redriven %d (%s %s %s, %s) -> %s as %s\n", r.Seq, r.Connection, r.Object, r.Stage, r.Code, r.To, r.MsgID)
		}
		if err != nil {
			return err
		}
		if len(done) > 0 {
			fmt.Fprintf(stdout, "redriven %d dead letter(s); replay id %s (their activity rows carry it)\n", len(done), run)
		} else {
			fmt.Fprintln(stdout, "no dead letters match")
		}
		return nil
	}
	dls, err := ops.ListDeadLetters(ctx, js, f)
	if err != nil {
		return err
	}
	if verb == "show" {
		if len(dls) == 0 {
			return errors.New("dlq show: that dead letter does not match the filters")
		}
		return ops.WriteDeadLetter(stdout, dls[0])
	}
	if err := ops.WriteDeadLetterTable(stdout, dls); err != nil {
		return err
	}
	if verb == "redrive" {
		fmt.Fprintf(stdout, "would redrive %d dead letter(s) (dry run, nothing sent)\n", len(dls))
	} else {
		fmt.Fprintf(stdout, "%d dead letter(s)\n", len(dls))
	}
	return nil
}

func cmdBackfill(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	var o ops.BackfillOptions
	fs := newOpsFlags("backfill", stderr)
	var object, system string
	fs.StringVar(&o.Connection, "connection", "", "connection id")
	fs.StringVar(&object, "object", "", "contact, product, invoice or payment")
	fs.StringVar(&system, "system", "", "hubspot or qbo (default: every side the object is read from)")
	fs.DurationVar(&o.Timeout, "timeout", time.Hour, "how long to follow the progress")
	if err := parseOpsFlags(fs, args); err != nil {
		return err
	}
	o.Object, o.System = streams.Object(object), streams.System(system)
	if err := o.Validate(); err != nil {
		return usageError("backfill: " + strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	nc, js, err := opsJetStream(ctx, env, stderr, "backfill")
	if err != nil {
		return err
	}
	defer nc.Close()
	o.Out = stdout
	o.RunID = ops.NewRunID("bf", time.Now())
	done, err := ops.Backfill(ctx, js, o)
	if err != nil {
		return err
	}
	total := 0
	for _, p := range done {
		total += p.Done
	}
	fmt.Fprintf(stdout, "backfill %s done: %d %s record(s) read again from %d side(s)\n", o.RunID, total, o.Object, len(done))
	return nil
}
