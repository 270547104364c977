package envelope

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/streams"
)

func valid() Envelope {
	return Envelope{Connection: "conn-1", Object: streams.ObjectInvoice, Stage: streams.StageResolved, Source: streams.SystemQBO,
		Target: streams.SystemHubSpot, RecordID: "145", SourceVersion: "3", OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestSubjectAndMsgID(t *testing.T) {
	e := valid()
	if got := e.Subject(); got != "sync.conn-1.invoice.resolved.hubspot" {
		t.Fatalf("subject %s", got)
	}
	a, b := e, e
	b.SourceVersion = "4"
	if a.MsgID() == b.MsgID() {
		t.Fatal("a newer version must get a new message id")
	}
	c, d := e, e
	c.Digest, d.Digest = "a1", "b2"
	if c.MsgID() == d.MsgID() {
		t.Fatal("two contents at one version (a create and an update in one millisecond) must not collapse into one")
	}
	r := e
	r.ReplayID = "rp-1"
	if r.MsgID() == e.MsgID() {
		t.Fatal("a replay must not collide with the live message id")
	}
	long := e
	long.RecordID = strings.Repeat("x", 300)
	if id := long.MsgID(); len(id) > 200 {
		t.Fatalf("msg id of %d bytes", len(id))
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	e := Envelope{Connection: "a.b", Object: "contact", Stage: "resolved", Source: "salesforce"}
	err := e.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"connection", "target", "source", "record_id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %s", err, want)
		}
	}
}

// FuzzDecode: any bytes either fail with an error or give an envelope whose
// subject stays inside the stage streams and that survives a round trip.
func FuzzDecode(f *testing.F) {
	good, _ := json.Marshal(valid())
	f.Add(good)
	f.Add([]byte(`{"connection":"c","object":"contact","stage":"ingested","source":"hubspot","record_id":"1"}`))
	f.Add([]byte(`{"connection":"c.*","object":">","stage":"ingested","source":"hubspot","record_id":"1"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		subj := e.Subject()
		dots := strings.Count(subj, ".")
		if strings.ContainsAny(subj, "*> \t") || (dots != 4 && !(dots == 5 && strings.HasSuffix(subj, ".backfill"))) {
			t.Fatalf("valid envelope yields subject %q", subj)
		}
		again, _ := json.Marshal(e)
		e2, err := Decode(again)
		if err != nil || e2.MsgID() != e.MsgID() {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestMsgIDFormat pins the id's text: the streams' duplicate windows and the
// activity rows' event ids are keyed on it, so a process of another
// version must make the same id for the same change.
func TestMsgIDFormat(t *testing.T) {
	base := Envelope{Stage: streams.StageResolved, Connection: "c1", Object: streams.ObjectContact, Source: streams.SystemHubSpot,
		Target: streams.SystemQBO, RecordID: "101", SourceVersion: "1700000000000"}
	withDigest, withReplay, both := base, base, base
	withDigest.Digest = "abcdef012345"
	withReplay.ReplayID = "run-7"
	both.Digest, both.ReplayID = "abcdef012345", "run-7"
	ingested := base
	ingested.Stage, ingested.Target = streams.StageIngested, ""
	for _, tc := range []struct {
		e    Envelope
		want string
	}{
		{base, "resolved:c1:contact:hubspot:qbo:101:1700000000000"},
		{withDigest, "resolved:c1:contact:hubspot:qbo:101:1700000000000:abcdef012345"},
		{withReplay, "resolved:c1:contact:hubspot:qbo:101:1700000000000:replay:run-7"},
		{both, "resolved:c1:contact:hubspot:qbo:101:1700000000000:abcdef012345:replay:run-7"},
		{ingested, "ingested:c1:contact:hubspot::101:1700000000000"},
	} {
		if got := tc.e.MsgID(); got != tc.want {
			t.Errorf("MsgID() = %q, want %q", got, tc.want)
		}
	}
}
