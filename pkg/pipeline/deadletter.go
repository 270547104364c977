package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Headers on a dead-lettered message. The original headers are kept too.
const (
	HeaderErrorCode        = "Ledgersync-Error-Code"
	HeaderErrorMessage     = "Ledgersync-Error-Message"
	HeaderStage            = "Ledgersync-Stage"
	HeaderOriginalSubject  = "Ledgersync-Original-Subject"
	HeaderOriginalStream   = "Ledgersync-Original-Stream"
	HeaderOriginalSequence = "Ledgersync-Original-Sequence"
	HeaderOriginalMsgID    = "Ledgersync-Original-Msg-Id"
	HeaderAttempts         = "Ledgersync-Attempts"
	HeaderFailedAt         = "Ledgersync-Failed-At"
)

const maxErrorText = 2000

// DeadLetterer moves a message a stage gave up on to the DEADLETTER stream
// and records a failed activity event for it.
type DeadLetterer struct {
	js       jetstream.JetStream
	activity *activity.Publisher
	stage    string
	now      func() time.Time
}

// NewDeadLetterer returns a dead-letterer for stage, for consumers that do
// not use the Runner (the activity sink).
func NewDeadLetterer(js jetstream.JetStream, stage string) *DeadLetterer {
	return &DeadLetterer{js: js, activity: activity.NewPublisher(js), stage: stage}
}

// DeadLetter publishes d to dlq.<conn>.<object>.<stage> and the failed
// activity event. Both carry ids derived from the original stream position,
// so doing it again after a crash does not duplicate them.
func (dl *DeadLetterer) DeadLetter(ctx context.Context, d *Delivery, cause error) error {
	now := time.Now().UTC()
	if dl.now != nil {
		now = dl.now()
	}
	conn, object := d.Envelope.Connection, d.Envelope.Object
	if conn == "" {
		conn, object = streams.SubjectParts(d.Msg.Subject())
	}
	if !streams.ValidToken(conn) {
		conn = ""
	}
	if !streams.ValidToken(string(object)) {
		object = ""
	}
	var streamName string
	var seq uint64
	if d.Meta != nil {
		streamName, seq = d.Meta.Stream, d.Meta.Sequence.Stream
	}
	origin := fmt.Sprintf("%s:%d", streamName, seq)
	code := string(syncerr.CodeOf(cause))
	text := truncate(cause.Error(), maxErrorText)

	m := nats.NewMsg(streams.DeadLetterSubject(conn, object, dl.stage))
	m.Data = d.Msg.Data()
	for k, v := range d.Msg.Headers() {
		m.Header[k] = append([]string(nil), v...)
	}
	origMsgID := d.Msg.Headers().Get(jetstream.MsgIDHeader)
	m.Header.Set(jetstream.MsgIDHeader, "dlq:"+dl.stage+":"+origin)
	m.Header.Set(HeaderErrorCode, code)
	m.Header.Set(HeaderErrorMessage, text)
	m.Header.Set(HeaderStage, dl.stage)
	m.Header.Set(HeaderOriginalSubject, d.Msg.Subject())
	m.Header.Set(HeaderOriginalStream, streamName)
	m.Header.Set(HeaderOriginalSequence, strconv.FormatUint(seq, 10))
	m.Header.Set(HeaderOriginalMsgID, origMsgID)
	m.Header.Set(HeaderAttempts, strconv.Itoa(d.Attempt))
	m.Header.Set(HeaderFailedAt, now.Format(time.RFC3339Nano))
	if _, err := dl.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish dead letter: %w", err)
	}

	ev := activity.Event{
		EventID:      activity.DerivedID("dead-letter", dl.stage, origin),
		Time:         now,
		Connection:   conn,
		Object:       string(object),
		Stage:        dl.stage,
		Outcome:      activity.OutcomeFailed,
		ErrorCode:    code,
		ErrorMessage: text,
		Attempt:      uint16(min(d.Attempt, 65535)),
		MessageID:    origMsgID,
		ReplayID:     d.Envelope.ReplayID,
		NatsStream:   streamName,
		NatsSeq:      seq,
	}
	if d.Envelope.RecordID != "" {
		ev.Record(d.Envelope.Source, d.Envelope.RecordID)
	}
	if err := dl.activity.Publish(ctx, ev); err != nil {
		return fmt.Errorf("record failed activity: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
