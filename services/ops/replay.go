package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/streams"
)

// ReplayOptions selects what a replay re-runs: one connection's object in
// one stage's stream, from a time or a sequence, up to a time (exclusive)
// or to what the stream held when the replay started.
type ReplayOptions struct {
	Connection string
	Object     streams.Object
	// Stage is the stream to read: ingested re-runs the transformer and
	// everything after it, transformed the resolver onwards, resolved the
	// writer.
	Stage    streams.Stage
	FromTime time.Time // stream time (when the message was stored)
	FromSeq  uint64
	ToTime   time.Time // zero: up to the start of the replay
	DryRun   bool
	// ReplayID marks every republished message; empty: a new one. Running a
	// replay again with the same id within the stream's duplicate window
	// (15 min) republishes nothing twice.
	ReplayID string
	// Out receives progress and the listing of a dry run (nil: discarded).
	Out io.Writer
}

// Validate names every problem with the options, as flags.
func (o ReplayOptions) Validate() error {
	var errs []error
	if !streams.ValidToken(o.Connection) {
		errs = append(errs, fmt.Errorf("--connection %q is not a connection id", o.Connection))
	}
	if !ValidObject(o.Object) {
		errs = append(errs, fmt.Errorf("--object %q is not one of contact, product, invoice, payment", o.Object))
	}
	if _, _, err := StageStream(o.Stage, "c", streams.ObjectContact); err != nil {
		errs = append(errs, fmt.Errorf("--stage %q: use ingested (after a mapping or filter fix: re-runs transformer, resolver, writer), "+
			"transformed (resolver and writer) or resolved (writer only)", o.Stage))
	}
	switch {
	case o.FromTime.IsZero() && o.FromSeq == 0:
		errs = append(errs, errors.New("one of --from-time or --from-seq is required"))
	case !o.FromTime.IsZero() && o.FromSeq != 0:
		errs = append(errs, errors.New("--from-time and --from-seq exclude each other"))
	}
	if !o.ToTime.IsZero() && !o.FromTime.IsZero() && !o.ToTime.After(o.FromTime) {
		errs = append(errs, fmt.Errorf("--to-time %s is not after --from-time %s", o.ToTime.Format(time.RFC3339), o.FromTime.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// ReplaySummary is what a replay did.
type ReplaySummary struct {
	ReplayID string
	Stream   string
	// Read is how many messages of the connection and object the window
	// held; Superseded of them were earlier copies of a message read again
	// later in the window (an earlier replay, a redelivered publish), so
	// only the newest copy of each is replayed; Selected = Read - Superseded.
	Read, Superseded, Selected int
	// Published is how many were republished (0 on a dry run).
	Published int
	// FirstSeq and LastSeq bound the selected messages in the stream.
	FirstSeq, LastSeq uint64
}

// selected is one message a replay will republish.
type selected struct {
	seq  uint64
	at   time.Time
	env  envelope.Envelope // without payload
	base string            // its message id without any replay id
}

// Replay re-runs a stage for a window of its stream. It reads through an
// ordered consumer of its own (ephemeral, no acks: the live durable
// consumers keep their positions), keeps the newest copy of each message,
// and republishes each selected message to its subject with ReplayID in its
// envelope and so in its message id, where the stage's live consumer takes
// it like any other. Every stage copies the replay id into its outputs and
// activity rows. The resolver and writer let a replayed record through at
// the version they last synced when it maps differently now (see
// links.Side.ReplayResyncs).
func Replay(ctx context.Context, js jetstream.JetStream, o ReplayOptions) (ReplaySummary, error) {
	if err := o.Validate(); err != nil {
		return ReplaySummary{}, err
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	out := o.Out
	if o.ReplayID == "" {
		o.ReplayID = NewRunID("rp", time.Now())
	}
	if !streams.ValidToken(o.ReplayID) {
		return ReplaySummary{}, fmt.Errorf("--replay-id %q: letters, digits, '-' and '_' only", o.ReplayID)
	}
	streamName, subjects, _ := StageStream(o.Stage, o.Connection, o.Object)
	sum := ReplaySummary{ReplayID: o.ReplayID, Stream: streamName}
	stream, err := js.Stream(ctx, streamName)
	if err != nil {
		return sum, fmt.Errorf("stream %s: %w", streamName, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return sum, fmt.Errorf("stream %s: %w", streamName, err)
	}
	// What arrives after this point (including our own republished copies)
	// is not part of the replay.
	last := info.State.LastSeq
	if o.FromSeq != 0 && o.FromSeq < info.State.FirstSeq {
		return sum, fmt.Errorf("--from-seq %d is gone from %s: it starts at %d now (retention); use syncd backfill to read the source again",
			o.FromSeq, streamName, info.State.FirstSeq)
	}
	if !o.FromTime.IsZero() && !info.State.FirstTime.IsZero() && o.FromTime.Before(info.State.FirstTime) {
		fmt.Fprintf(out, "note: %s starts at %s (retention); older changes can only come back with syncd backfill\n",
			streamName, info.State.FirstTime.UTC().Format(time.RFC3339))
	}

	picked, read, err := scan(ctx, js, streamName, subjects, o, last)
	if err != nil {
		return sum, err
	}
	sum.Read, sum.Selected, sum.Superseded = read, len(picked), read-len(picked)
	if len(picked) > 0 {
		sum.FirstSeq, sum.LastSeq = picked[0].seq, picked[len(picked)-1].seq
	}
	if o.DryRun {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SEQ\tTIME\tSUBJECT\tRECORD\tVERSION")
		for _, p := range picked {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", p.seq, p.at.UTC().Format(time.RFC3339), p.env.Subject(), p.env.RecordKey(), p.env.SourceVersion)
		}
		if err := w.Flush(); err != nil {
			return sum, err
		}
		return sum, nil
	}

	// The run itself is part of the history: who replayed what, when.
	acts := activity.NewPublisher(js)
	ev := activity.Event{EventID: activity.DerivedID(StageReplay, o.ReplayID), Time: time.Now().UTC(), Connection: o.Connection,
		Object: string(o.Object), Stage: StageReplay, Action: "replay " + string(o.Stage), Outcome: activity.OutcomeSuccess,
		ReplayID: o.ReplayID, NatsStream: streamName, NatsSeq: sum.FirstSeq,
		ErrorMessage: fmt.Sprintf("replaying %d message(s) of %s, sequences %d-%d", sum.Selected, streamName, sum.FirstSeq, sum.LastSeq)}
	if err := publishEvent(ctx, acts, ev); err != nil {
		return sum, err
	}

	const window = 256
	var futures []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
				sum.Published++
			case err := <-f.Err():
				return fmt.Errorf("republish to %s: %w", f.Msg().Subject, err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	lastReport := time.Now()
	for i, p := range picked {
		raw, err := stream.GetMsg(ctx, p.seq)
		if err != nil {
			return sum, fmt.Errorf("read %s sequence %d: %w", streamName, p.seq, err)
		}
		env, err := envelope.Decode(raw.Data)
		if err != nil {
			return sum, fmt.Errorf("%s sequence %d: %w", streamName, p.seq, err)
		}
		env.ReplayID = o.ReplayID
		msg, err := pipeline.OutputMsg(env)
		if err != nil {
			return sum, fmt.Errorf("%s sequence %d: %w", streamName, p.seq, err)
		}
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			return sum, fmt.Errorf("republish to %s: %w", msg.Subject, err)
		}
		futures = append(futures, f)
		if len(futures) >= window || i == len(picked)-1 {
			if err := wait(); err != nil {
				return sum, err
			}
		}
		if time.Since(lastReport) >= time.Second || i == len(picked)-1 {
			lastReport = time.Now()
			fmt.Fprintf(out, "replayed %d/%d\n", sum.Published, sum.Selected)
		}
	}
	return sum, nil
}

// scan reads the window through an ordered consumer and returns the newest
// copy of each message, in stream order, and how many it read.
func scan(ctx context.Context, js jetstream.JetStream, streamName string, subjects []string, o ReplayOptions, last uint64) ([]selected, int, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects, InactiveThreshold: 30 * time.Second}
	if o.FromSeq != 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, o.FromSeq
	} else {
		t := o.FromTime
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := js.OrderedConsumer(ctx, streamName, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("temporary consumer on %s: %w", streamName, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("temporary consumer on %s: %w", streamName, err)
	}
	defer func() {
		// Gone by itself after InactiveThreshold; removed now so listings
		// show only the live consumers again.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = js.DeleteConsumer(dctx, streamName, cons.CachedInfo().Name)
	}()
	if info.NumPending == 0 || last == 0 {
		return nil, 0, nil
	}
	var all []selected
	newest := map[string]int{} // base message id -> index in all
	done := false
	for !done {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", streamName, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return nil, 0, err
			}
			seq := meta.Sequence.Stream
			if seq > last || (!o.ToTime.IsZero() && !meta.Timestamp.Before(o.ToTime)) {
				done = true
				break
			}
			env, err := envelope.Decode(m.Data())
			if err != nil {
				// A message no stage could read: it went to the dead
				// letters when it was first consumed.
				fmt.Fprintf(o.Out, "skipping %s sequence %d: %v\n", streamName, seq, err)
			} else {
				env.Payload = nil
				base := env
				base.ReplayID = ""
				s := selected{seq: seq, at: meta.Timestamp, env: env, base: base.MsgID()}
				if i, ok := newest[s.base]; ok {
					all[i].seq = 0 // superseded by this later copy
				}
				newest[s.base] = len(all)
				all = append(all, s)
			}
			if meta.NumPending == 0 || seq == last {
				done = true
				break
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !done {
			return nil, 0, fmt.Errorf("read %s: %w", streamName, err)
		}
		if got == 0 && !done {
			// Nothing more within the wait: the filter matched nothing newer.
			done = true
		}
	}
	picked := all[:0:0]
	for _, s := range all {
		if s.seq != 0 {
			picked = append(picked, s)
		}
	}
	return picked, len(all), nil
}
