// Package envelope is the message every pipeline stage reads and writes: one
// record of one object for one connection, with the version it had at its
// source so later stages can drop anything stale.
package envelope

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/streams"
)

// Envelope is a record travelling through the pipeline.
type Envelope struct {
	Connection string         `json:"connection"`
	Object     streams.Object `json:"object"`
	Stage      streams.Stage  `json:"stage"`
	// Source is where the change happened; Target where it goes (set from
	// the resolved stage on).
	Source streams.System `json:"source"`
	Target streams.System `json:"target,omitempty"`
	// RecordID is the record's id in Source.
	RecordID string `json:"record_id"`
	// SourceVersion orders changes of one record: QBO SyncToken, HubSpot
	// updatedAt in milliseconds. Stages drop what is not newer than the link.
	SourceVersion string `json:"source_version"`
	// Digest is a short hash of the record as the ingestor read it. Two
	// reads at one SourceVersion with different content are two changes
	// (HubSpot's modified time has millisecond resolution, and a create
	// and an update can share a millisecond): the digest keeps the later
	// one from being collapsed into the first as a duplicate.
	Digest string `json:"digest,omitempty"`
	// ReplayID is set on messages produced by `syncd replay`, so their ids
	// and activity rows are told apart from the live run.
	ReplayID string `json:"replay_id,omitempty"`
	// Lane is "backfill" for records of a first sync; the writer takes them
	// in their own lane so live changes never wait behind them.
	Lane streams.Lane `json:"lane,omitempty"`
	// ConnectionRevision is the revision of the connection's settings the
	// ingestor read the record under. A stage whose copy of the settings
	// is older waits for it (connection.Cache.GetAt) instead of applying
	// stale settings: a record read just after a user turned a direction
	// on must not be excluded by the direction it had before, since the
	// same read again would be dropped as a duplicate and never retried.
	ConnectionRevision uint64          `json:"connection_revision,omitempty"`
	OccurredAt         time.Time       `json:"occurred_at"`
	Payload            json.RawMessage `json:"payload,omitempty"`
}

// Subject is where the envelope is published.
func (e Envelope) Subject() string {
	system := e.Source
	if e.Stage == streams.StageResolved {
		system = e.Target
	}
	subject := streams.StageSubject(e.Stage, e.Connection, e.Object, system)
	if e.Stage == streams.StageResolved && e.Lane == streams.LaneBackfill {
		subject += "." + string(streams.LaneBackfill)
	}
	return subject
}

// MsgID is the deterministic Nats-Msg-Id of the envelope: the same change
// seen twice (a webhook and a poll, a redelivery) gets the same id and the
// stream's duplicate window collapses it.
func (e Envelope) MsgID() string {
	// Built in one allocation: every stage asks for it several times per
	// message.
	parts := [...]string{string(e.Stage), e.Connection, string(e.Object), string(e.Source), string(e.Target), e.RecordID, e.SourceVersion}
	n := len(parts) - 1 + len(e.Digest) + len(e.ReplayID)
	for _, p := range parts {
		n += len(p)
	}
	if e.Digest != "" {
		n++
	}
	if e.ReplayID != "" {
		n += len(":replay:")
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(p)
	}
	if e.Digest != "" {
		b.WriteByte(':')
		b.WriteString(e.Digest)
	}
	if e.ReplayID != "" {
		b.WriteString(":replay:")
		b.WriteString(e.ReplayID)
	}
	id := b.String()
	if len(id) <= 200 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return string(e.Stage) + ":" + hex.EncodeToString(sum[:])
}

// Validate names every missing or malformed field.
func (e Envelope) Validate() error {
	var errs []error
	if !streams.ValidToken(e.Connection) {
		errs = append(errs, fmt.Errorf("connection %q is not a valid id", e.Connection))
	}
	if !streams.ValidToken(string(e.Object)) {
		errs = append(errs, fmt.Errorf("object %q is not valid", e.Object))
	}
	switch e.Stage {
	case streams.StageIngested, streams.StageTransformed:
	case streams.StageResolved:
		if e.Target != streams.SystemHubSpot && e.Target != streams.SystemQBO {
			errs = append(errs, fmt.Errorf("target %q is not hubspot or qbo", e.Target))
		}
	default:
		errs = append(errs, fmt.Errorf("stage %q is not ingested, transformed or resolved", e.Stage))
	}
	if e.Source != streams.SystemHubSpot && e.Source != streams.SystemQBO {
		errs = append(errs, fmt.Errorf("source %q is not hubspot or qbo", e.Source))
	}
	if e.RecordID == "" {
		errs = append(errs, errors.New("record_id is empty"))
	}
	if e.Lane != streams.LaneLive && e.Lane != streams.LaneBackfill {
		errs = append(errs, fmt.Errorf("lane %q is not empty or backfill", e.Lane))
	}
	return errors.Join(errs...)
}

// Decode parses and validates an envelope.
func Decode(data []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("decode envelope: %w", err)
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("invalid envelope: %w", err)
	}
	return e, nil
}

// RecordKey is the record's identity in activity rows: "<system>:<id>".
func (e Envelope) RecordKey() string { return string(e.Source) + ":" + e.RecordID }
