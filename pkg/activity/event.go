// Package activity is the record of everything the sync does: the event type
// every stage emits, its publisher on JetStream, and the ClickHouse store the
// activitysink writes and the status views read.
package activity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	// goccy/go-json: drop-in encoding/json, about 7x faster decoding an
	// event here, which is the sink's hot path (see the package bench).
	json "github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/streams"
)

// Outcome is what happened to a record at a stage.
type Outcome string

const (
	OutcomeSuccess     Outcome = "success"      // the stage did its work
	OutcomeExcluded    Outcome = "excluded"     // a sync filter left the record out
	OutcomeSkipped     Outcome = "skipped"      // nothing to do (not newer, no change)
	OutcomeSkippedEcho Outcome = "skipped_echo" // our own write came back through the change feed
	OutcomeRetrying    Outcome = "retrying"     // a transient failure; it will be retried
	OutcomeWaiting     Outcome = "waiting"      // waits for a record it depends on (its customer, its products)
	OutcomeFailed      Outcome = "failed"       // given up: dead-lettered with a category
)

var outcomes = map[Outcome]bool{
	OutcomeSuccess: true, OutcomeExcluded: true, OutcomeSkipped: true,
	OutcomeSkippedEcho: true, OutcomeRetrying: true, OutcomeWaiting: true, OutcomeFailed: true,
}

// FieldChange is one field a stage changed or would change.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
}

// Event is one activity row.
type Event struct {
	// EventID identifies the event; a redelivered or republished event keeps
	// it, and ClickHouse collapses rows on it.
	EventID    string    `json:"event_id"`
	Time       time.Time `json:"time"`
	Connection string    `json:"connection"`
	Object     string    `json:"object"`
	// RecordKey identifies the record pair: "<system>:<id>" of the side the
	// record was first seen on.
	RecordKey    string        `json:"record_key,omitempty"`
	HubSpotID    string        `json:"hubspot_id,omitempty"`
	QBOID        string        `json:"qbo_id,omitempty"`
	SourceSystem string        `json:"source_system,omitempty"`
	Stage        string        `json:"stage"`
	Action       string        `json:"action,omitempty"` // create, update, archive, fetch, map ...
	Direction    string        `json:"direction,omitempty"`
	Outcome      Outcome       `json:"outcome"`
	ErrorCode    string        `json:"error_code,omitempty"`
	ErrorMessage string        `json:"error_message,omitempty"`
	Changes      []FieldChange `json:"changes,omitempty"`
	Attempt      uint16        `json:"attempt,omitempty"`
	DurationMs   uint32        `json:"duration_ms,omitempty"`
	MessageID    string        `json:"message_id,omitempty"`
	ReplayID     string        `json:"replay_id,omitempty"`
	// NatsStream and NatsSeq locate the message the stage processed, for
	// replay and dead-letter lookups.
	NatsStream string `json:"nats_stream,omitempty"`
	NatsSeq    uint64 `json:"nats_seq,omitempty"`
}

// Record files e under the record id read from source: its key, its
// source, its direction and that side's id. Every row about a record is
// filed this way, so the status views' direction and id filters find it
// whichever stage wrote it.
func (e *Event) Record(source streams.System, id string) {
	e.RecordKey = string(source) + ":" + id
	e.SourceSystem = string(source)
	e.Direction = string(connection.DirectionFrom(source))
	e.SetID(source, id)
}

// SetID sets the record's id in system (the other side's, once linked).
func (e *Event) SetID(system streams.System, id string) {
	if system == streams.SystemQBO {
		e.QBOID = id
	} else {
		e.HubSpotID = id
	}
}

// Validate names every missing or malformed field.
func (e Event) Validate() error {
	var errs []error
	if e.EventID == "" {
		errs = append(errs, errors.New("event_id is empty"))
	}
	if e.Time.IsZero() {
		errs = append(errs, errors.New("time is zero"))
	}
	if e.Connection != "" && !streams.ValidToken(e.Connection) {
		errs = append(errs, fmt.Errorf("connection %q is not a valid id", e.Connection))
	}
	if e.Object != "" && !streams.ValidToken(e.Object) {
		errs = append(errs, fmt.Errorf("object %q is not valid", e.Object))
	}
	if e.Stage == "" {
		errs = append(errs, errors.New("stage is empty"))
	}
	if !outcomes[e.Outcome] {
		errs = append(errs, fmt.Errorf("outcome %q is unknown", e.Outcome))
	}
	if e.Outcome == OutcomeFailed && e.ErrorCode == "" {
		errs = append(errs, errors.New("a failed event needs an error_code"))
	}
	return errors.Join(errs...)
}

// Decode parses and validates an event.
func Decode(data []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("decode activity event: %w", err)
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("invalid activity event: %w", err)
	}
	return e, nil
}

// NewID returns a random event id.
func NewID() string { return uuid.NewString() }

// DerivedID returns an event id derived from parts, for events that may be
// emitted again for the same cause (a redelivered message failing again).
func DerivedID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x1f")))
	return hex.EncodeToString(sum[:16])
}

// ChangesOf lists fields and their new values, sorted by field, for the
// activity timeline ("what changed field by field").
func ChangesOf(fields map[string]string) []FieldChange {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]FieldChange, len(keys))
	for i, k := range keys {
		out[i] = FieldChange{Field: k, New: fields[k]}
	}
	return out
}
