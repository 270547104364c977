package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/streams"
)

// DLQFilter selects dead letters. Zero fields match everything.
type DLQFilter struct {
	Connection string
	Object     streams.Object
	Stage      string // the stage that gave up: transformer, resolver, writer, activitysink
	Code       string // error code, e.g. QBO_DUPLICATE_NAME
	Since      time.Time
	Until      time.Time // exclusive
	Seqs       []uint64  // only these DEADLETTER sequences
}

// Validate names every problem with the filter, as flags.
func (f DLQFilter) Validate() error {
	var errs []error
	if f.Connection != "" && !streams.ValidToken(f.Connection) {
		errs = append(errs, fmt.Errorf("--connection %q is not a connection id", f.Connection))
	}
	if f.Object != "" && !ValidObject(f.Object) {
		errs = append(errs, fmt.Errorf("--object %q is not one of contact, product, invoice, payment", f.Object))
	}
	if f.Stage != "" && !streams.ValidToken(f.Stage) {
		errs = append(errs, fmt.Errorf("--stage %q is not a stage name", f.Stage))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs = append(errs, errors.New("--until is not after --since"))
	}
	return errors.Join(errs...)
}

func (f DLQFilter) subject() string {
	tok := func(s string) string {
		if s == "" {
			return "*"
		}
		return s
	}
	return "dlq." + tok(f.Connection) + "." + tok(string(f.Object)) + "." + tok(f.Stage)
}

// DeadLetter is one message a stage gave up on.
type DeadLetter struct {
	Seq        uint64
	Time       time.Time // when it was dead-lettered
	Subject    string
	Connection string
	Object     string
	Stage      string
	Code       string
	Message    string
	Header     nats.Header
	Data       []byte
}

// OriginalSubject is where the message was before it failed.
func (d DeadLetter) OriginalSubject() string { return d.Header.Get(pipeline.HeaderOriginalSubject) }

func deadLetterOf(seq uint64, at time.Time, subject string, h nats.Header, data []byte) DeadLetter {
	conn, object := streams.SubjectParts(subject)
	stage := h.Get(pipeline.HeaderStage)
	if stage == "" {
		if tokens := strings.Split(subject, "."); len(tokens) == 4 {
			stage = tokens[3]
		}
	}
	if failed, err := time.Parse(time.RFC3339Nano, h.Get(pipeline.HeaderFailedAt)); err == nil {
		at = failed
	}
	return DeadLetter{Seq: seq, Time: at, Subject: subject, Connection: conn, Object: string(object), Stage: stage,
		Code: h.Get(pipeline.HeaderErrorCode), Message: h.Get(pipeline.HeaderErrorMessage), Header: h, Data: data}
}

func (f DLQFilter) match(d DeadLetter) bool {
	switch {
	case f.Code != "" && !strings.EqualFold(f.Code, d.Code):
		return false
	case !f.Since.IsZero() && d.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !d.Time.Before(f.Until):
		return false
	}
	if len(f.Seqs) > 0 {
		for _, s := range f.Seqs {
			if s == d.Seq {
				return true
			}
		}
		return false
	}
	return true
}

// ListDeadLetters returns the dead letters matching f, oldest first.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, f DLQFilter) ([]DeadLetter, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, streams.StreamDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streams.StreamDeadLetter, err)
	}
	if len(f.Seqs) > 0 {
		var out []DeadLetter
		for _, seq := range f.Seqs {
			raw, err := stream.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return nil, fmt.Errorf("no dead letter with sequence %d (redriven, expired or never there)", seq)
			}
			if err != nil {
				return nil, fmt.Errorf("read dead letter %d: %w", seq, err)
			}
			d := deadLetterOf(raw.Sequence, raw.Time, raw.Subject, raw.Header, raw.Data)
			if subjectMatches(f.subject(), raw.Subject) && f.match(d) {
				out = append(out, d)
			}
		}
		return out, nil
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{f.subject()}, InactiveThreshold: 30 * time.Second}
	if !f.Since.IsZero() {
		// Dead letters are stored when they fail: the stream time is a
		// lower bound for the failure time in the header.
		since := f.Since.Add(-time.Minute)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := js.OrderedConsumer(ctx, streams.StreamDeadLetter, cfg)
	if err != nil {
		return nil, fmt.Errorf("temporary consumer on %s: %w", streams.StreamDeadLetter, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = js.DeleteConsumer(dctx, streams.StreamDeadLetter, cons.CachedInfo().Name)
	}()
	ci, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	if ci.NumPending == 0 {
		return nil, nil
	}
	var out []DeadLetter
	for done := false; !done; {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", streams.StreamDeadLetter, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			if meta.Sequence.Stream > last {
				done = true
				break
			}
			d := deadLetterOf(meta.Sequence.Stream, meta.Timestamp, m.Subject(), m.Headers(), m.Data())
			if f.match(d) {
				out = append(out, d)
			}
			if meta.NumPending == 0 || meta.Sequence.Stream == last {
				done = true
				break
			}
		}
		if got == 0 {
			done = true
		}
	}
	return out, nil
}

// subjectMatches reports whether subject matches a filter of literal
// tokens and '*'.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	if len(ft) != len(st) {
		return false
	}
	for i := range ft {
		if ft[i] != "*" && ft[i] != st[i] {
			return false
		}
	}
	return true
}

// WriteDeadLetterTable prints dead letters as a table.
func WriteDeadLetterTable(w io.Writer, dls []DeadLetter) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tCONNECTION\tOBJECT\tSTAGE\tCODE\tMESSAGE")
	for _, d := range dls {
		msg := strings.Join(strings.Fields(d.Message), " ")
		if len(msg) > 100 {
			msg = msg[:100] + "…"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.UTC().Format(time.RFC3339), d.Connection, d.Object, d.Stage, d.Code, msg)
	}
	return tw.Flush()
}

// WriteDeadLetter prints one dead letter: its headers, sorted, then its
// payload (indented when it is JSON).
func WriteDeadLetter(w io.Writer, d DeadLetter) error {
	fmt.Fprintf(w, "sequence: %d\nsubject:  %s\ntime:     %s\n\nheaders:\n", d.Seq, d.Subject, d.Time.UTC().Format(time.RFC3339Nano))
	keys := make([]string, 0, len(d.Header))
	for k := range d.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range d.Header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	fmt.Fprintln(w, "\npayload:")
	var pretty bytes.Buffer
	if json.Indent(&pretty, d.Data, "", "  ") == nil {
		pretty.WriteByte('\n')
		_, err := pretty.WriteTo(w)
		return err
	}
	_, err := fmt.Fprintf(w, "%q\n", d.Data)
	return err
}

// Redriven is one dead letter sent back.
type Redriven struct {
	DeadLetter
	To    string // the subject it went back to
	MsgID string // its new message id
}

// Redrive sends each dead letter matching f back to its original subject,
// where the stage that gave up takes it again, then deletes it from the
// DEADLETTER stream and records a "redrive" activity event. A redriven
// message gets a new message id (its envelope carries the run id as its
// replay id), so the stream's duplicate window does not swallow it; a
// dead letter whose body is not an envelope goes back byte for byte under
// an id made from the run and its dead-letter sequence.
func Redrive(ctx context.Context, js jetstream.JetStream, f DLQFilter, runID string) ([]Redriven, error) {
	if runID == "" {
		runID = NewRunID("rd", time.Now())
	}
	dls, err := ListDeadLetters(ctx, js, f)
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, streams.StreamDeadLetter)
	if err != nil {
		return nil, err
	}
	acts := activity.NewPublisher(js)
	var done []Redriven
	for _, d := range dls {
		to := d.OriginalSubject()
		if to == "" || strings.HasPrefix(to, "dlq.") {
			return done, fmt.Errorf("dead letter %d has no original subject to go back to", d.Seq)
		}
		m := nats.NewMsg(to)
		for k, v := range d.Header {
			if strings.HasPrefix(k, "Ledgersync-") || k == jetstream.MsgIDHeader {
				continue
			}
			m.Header[k] = append([]string(nil), v...)
		}
		m.Data = d.Data
		ev := activity.Event{EventID: activity.DerivedID(StageDLQ, "redrive", strconv.FormatUint(d.Seq, 10), runID), Time: time.Now().UTC(),
			Connection: d.Connection, Object: d.Object, Stage: StageDLQ, Action: "redrive", Outcome: activity.OutcomeSuccess,
			ReplayID: runID, NatsStream: streams.StreamDeadLetter, NatsSeq: d.Seq}
		if env, err := envelope.Decode(d.Data); err == nil {
			env.ReplayID = runID
			body, err := json.Marshal(env)
			if err != nil {
				return done, err
			}
			m.Data = body
			m.Header.Set(jetstream.MsgIDHeader, env.MsgID())
			ev.Record(env.Source, env.RecordID)
		} else {
			m.Header.Set(jetstream.MsgIDHeader, "redrive:"+runID+":"+strconv.FormatUint(d.Seq, 10))
		}
		ev.MessageID = m.Header.Get(jetstream.MsgIDHeader)
		ev.ErrorMessage = fmt.Sprintf("dead letter %d (%s at %s) sent back to %s", d.Seq, d.Code, d.Stage, to)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			return done, fmt.Errorf("redrive dead letter %d to %s: %w", d.Seq, to, err)
		}
		if err := publishEvent(ctx, acts, ev); err != nil {
			return done, err
		}
		// Only now: a failure before leaves it listed, and redriving it
		// again publishes under the same id (the duplicate window drops it).
		if err := stream.DeleteMsg(ctx, d.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return done, fmt.Errorf("remove dead letter %d after its redrive: %w", d.Seq, err)
		}
		done = append(done, Redriven{DeadLetter: d, To: to, MsgID: ev.MessageID})
	}
	return done, nil
}
