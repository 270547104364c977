// Package streams is the messaging topology of ledgersync as typed values:
// subjects, streams, durable consumers and KV buckets, plus Ensure (create or
// update them, idempotently) and Export (print them for operators).
//
// Subjects carry the connection and the object, never record ids: record ids
// ride in the envelope and in Nats-Msg-Id.
//
//	sync.<conn>.<object>.ingested.<source>      ingestor    -> transformer
//	sync.<conn>.<object>.transformed.<source>   transformer -> resolver
//	sync.<conn>.<object>.resolved.<target>      resolver    -> writer (live)
//	sync.<conn>.<object>.resolved.<target>.backfill        -> writer (first sync lane)
//	activity.<conn>.<object>.<outcome>          every stage -> activitysink
//	dlq.<conn>.<object>.<stage>                 dead letters of every stage
package streams

import (
	"fmt"
	"strings"
)

// Stage is a pipeline stage whose output is a stream.
type Stage string

const (
	StageIngested    Stage = "ingested"
	StageTransformed Stage = "transformed"
	StageResolved    Stage = "resolved"
)

// Lane separates the first sync (backfill) from live changes where it
// matters, at the writer: live changes must never wait behind a backfill.
type Lane string

const (
	LaneLive     Lane = ""
	LaneBackfill Lane = "backfill"
)

// Object is a synced object kind.
type Object string

const (
	ObjectContact Object = "contact"
	ObjectProduct Object = "product"
	ObjectInvoice Object = "invoice"
	ObjectPayment Object = "payment"
)

// Objects lists every object kind in sync order.
var Objects = []Object{ObjectContact, ObjectProduct, ObjectInvoice, ObjectPayment}

// System is one side of a connection.
type System string

const (
	SystemHubSpot System = "hubspot"
	SystemQBO     System = "qbo"
)

// StageSubject is where a stage publishes a record of object for conn;
// system is the source for ingested/transformed and the target for resolved.
func StageSubject(stage Stage, conn string, object Object, system System) string {
	return fmt.Sprintf("sync.%s.%s.%s.%s", conn, object, stage, system)
}

// ActivitySubject is where activity events of an outcome go.
func ActivitySubject(conn string, object Object, outcome string) string {
	return fmt.Sprintf("activity.%s.%s.%s", orDash(conn), orDash(string(object)), outcome)
}

// DeadLetterSubject is where a stage's dead letters go.
func DeadLetterSubject(conn string, object Object, stage string) string {
	return fmt.Sprintf("dlq.%s.%s.%s", orDash(conn), orDash(string(object)), stage)
}

// SubjectParts splits a sync./activity./dlq. subject into its connection and
// object tokens, for messages whose body cannot be decoded.
func SubjectParts(subject string) (conn string, object Object) {
	tokens := strings.Split(subject, ".")
	if len(tokens) >= 3 {
		return tokens[1], Object(tokens[2])
	}
	return "", ""
}

// ValidToken reports whether s can be one subject token: non-empty, at most
// 64 characters of letters, digits, '-' and '_'. Connection ids are checked
// with it when they are created, so no subject can be widened by a wildcard.
func ValidToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
