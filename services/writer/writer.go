// Package writer is the last stage: it writes resolved records to HubSpot
// or QBO through the rate-budgeted clients, never creates a duplicate (a
// first create looks the record up by its match key; QBO creates carry a
// requestid), re-reads the SyncToken for every QBO update, and commits the
// link under compare-and-set with the hash its write will echo back as.
package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/lanes"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/services/resolver"
	"github.com/ledgersync/ledgersync/streams"
)

// Config of the writer target.
type Config struct {
	// Workers write at once per object and process; the accounts' rate budgets, not
	// this number, bound the API calls. A worker waiting on one account's
	// budget holds its slot, so many connections need many workers: with 8,
	// ten busy connections queued up to 20 s behind each other.
	Workers int `env:"WRITER_WORKERS, default=32"`
	// BackfillWorkers write first-sync records of each object in their own lane. The API
	// budgets bound the lane's share of each account (QBO_/HUBSPOT_
	// LIMIT_BACKFILL_SHARE); the workers only need to be enough that a
	// slow account (QBO, 8 calls a second) does not hold up the others,
	// and that batch calls carry many records (a first sync into QBO
	// averaged 16 new customers per batch call with 32; 96 measured no
	// faster).
	BackfillWorkers int `env:"WRITER_BACKFILL_WORKERS, default=32"`
	// MaxAttempts before a transient failure is dead-lettered.
	MaxAttempts int `env:"WRITER_MAX_ATTEMPTS, default=10"`
	// DependencyWait is how long an invoice waits for its customer or its
	// products to sync before it fails with DEPENDENCY_MISSING.
	DependencyWait time.Duration `env:"WRITER_DEPENDENCY_WAIT, default=1h"`
}

// Stage names the writer in activity rows and dead letters.
const Stage = "writer"

// CodeFieldNotSupported: a mapped QBO field this version cannot write.
const CodeFieldNotSupported syncerr.Code = "QBO_FIELD_NOT_SUPPORTED"

// Service is the writer's consumers: per object, live changes and the
// first sync.
type Service struct {
	runners []*pipeline.Runner
}

// New builds the stage on the durable writer consumers, one per object and
// lane.
func New(ctx context.Context, cfg Config, js jetstream.JetStream, conns *connection.Cache, store *links.Store, factory *clients.Factory, logger *slog.Logger) (*Service, error) {
	h := &handler{conns: conns, links: store, clients: factory, activity: activity.NewPublisher(js), now: time.Now,
		dependencyWait: cfg.DependencyWait, hubspotProps: map[string]bool{},
		contactUpserts: newBatcher(batchLinger, hubspot.MaxBatchInputs, upsertContacts),
		customerWrites: newBatcher(batchLinger, qbo.MaxBatchItems, writeCustomers)}
	svc := &Service{}
	for _, o := range streams.Objects {
		for _, lane := range []streams.Lane{streams.LaneLive, streams.LaneBackfill} {
			workers := cfg.Workers
			if lane == streams.LaneBackfill {
				workers = max(cfg.BackfillWorkers, 1)
			}
			r, err := pipeline.New(ctx, pipeline.Config{Stage: Stage, Stream: streams.StreamResolved, Consumer: streams.WriterConsumer(o, lane),
				Workers: workers, MaxAttempts: cfg.MaxAttempts}, js, logger, h.handle)
			if err != nil {
				return nil, err
			}
			svc.runners = append(svc.runners, r)
		}
	}
	return svc, nil
}

// Run runs every object's lanes until ctx is cancelled.
func (s *Service) Run(ctx context.Context) error {
	errs := make(chan error, len(s.runners))
	for _, r := range s.runners {
		go func() { errs <- r.Run(ctx) }()
	}
	var all []error
	for range s.runners {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

type handler struct {
	conns    *connection.Cache
	links    *links.Store
	clients  *clients.Factory
	activity *activity.Publisher
	now      func() time.Time

	dependencyWait time.Duration
	propsMu        sync.Mutex
	hubspotProps   map[string]bool // portal/type/property of ledgersync's own properties known to exist
	companies      companyCache    // QBO company facts read per invoice otherwise
	contactUpserts *batcher[contactUpsert, upsertedContact]
	customerWrites *batcher[customerWrite, writtenCustomer]
}

// written is the result of one remote write.
type written struct {
	id      string
	version int64             // the target's version after the write (Unix ms)
	fields  map[string]string // the target record after the write, flattened
	created bool
	// keepHash: the write did not read the target back whole, so the
	// hash stored for the target stays; echo names the fields, as the
	// other direction maps them, that the write changed.
	keepHash bool
	echo     map[string]links.EchoField
}

func (h *handler) handle(ctx context.Context, in envelope.Envelope) ([]envelope.Envelope, error) {
	if in.Lane == streams.LaneBackfill {
		ctx = lanes.Backfill(ctx) // the API budgets keep live changes ahead of it
	}
	if in.ReplayID != "" {
		ctx = context.WithValue(ctx, replayKey{}, in.ReplayID)
	}
	conn, err := h.conns.GetAt(ctx, in.Connection, in.ConnectionRevision)
	if err != nil {
		return nil, err
	}
	var r record.Resolved
	if err := json.Unmarshal(in.Payload, &r); err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("resolved payload: %w", err))
	}
	version, err := resolver.ParseVersion(in.SourceVersion)
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	l, rev, err := h.links.Get(ctx, in.Connection, in.Object, r.Pair)
	if err != nil {
		return nil, syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("read link %s: %w", r.Pair, err))
	}
	ev := h.event(in, l)
	if src := l.Sides[in.Source]; version <= src.Version && !(in.ReplayID != "" && src.ReplayResyncs(version, r.SourceHash)) {
		// Written already: this very change (a redelivery after the link
		// was committed) or a newer one. The row gets an id of its own:
		// under the message's id it would replace the success row the
		// first delivery recorded.
		ev.EventID = activity.DerivedID(Stage, in.MsgID(), "already-written")
		ev.Outcome, ev.ErrorMessage = activity.OutcomeSkipped, "a newer change of this record was already written"
		if version == src.Version {
			ev.ErrorMessage = "this change was already written (delivered again after the write)"
		}
		return nil, h.publish(ctx, ev)
	}
	target := in.Target
	var w written
	switch {
	case in.Object == streams.ObjectContact && target == streams.SystemQBO:
		w, err = h.writeCustomer(ctx, conn, l, r)
	case in.Object == streams.ObjectContact:
		w, err = h.writeContact(ctx, conn, l, r)
	case in.Object == streams.ObjectProduct && target == streams.SystemQBO:
		w, err = h.writeItem(ctx, conn, l, r)
	case in.Object == streams.ObjectProduct:
		w, err = h.writeProduct(ctx, conn, l, r)
	case in.Object == streams.ObjectInvoice && target == streams.SystemQBO:
		w, err = h.writeQBOInvoice(ctx, conn, l, r)
	case in.Object == streams.ObjectInvoice && target == streams.SystemHubSpot:
		w, err = h.writeHubSpotInvoice(ctx, conn, l, r)
	case in.Object == streams.ObjectPayment && target == streams.SystemHubSpot:
		w, err = h.writePaymentNotes(ctx, conn, r)
	default:
		return nil, syncerr.Permanentf(mapping.CodeObjectNotSupported, "%s records are not written by this version", in.Object)
	}
	if syncerr.IsWaiting(err) {
		// Visible while it lasts; the final outcome replaces this row.
		ev.Outcome, ev.ErrorCode, ev.ErrorMessage = activity.OutcomeWaiting, string(syncerr.CodeOf(err)), err.Error()
		if perr := h.publish(ctx, ev); perr != nil {
			return nil, perr
		}
	}
	if err != nil {
		return nil, err
	}
	// What the target will send back when it echoes this write, mapped the
	// way the transformer will map it.
	echoHash := ""
	switch echo, err := mapping.Record(conn.Object(in.Object), in.Object, in.Source, record.Ingested{Fields: w.fields, Related: l.Sides[target].Related}); {
	case err == nil:
		echoHash = echo.Hash
	case syncerr.CodeOf(err) != mapping.CodeObjectNotSupported: // no way back means nothing can echo
		return nil, err
	}
	archived := r.Action == record.ActionArchive
	_, err = h.links.CommitAt(ctx, l, rev, func(l *links.Link) error {
		t := l.Sides[target]
		t.ID, t.WrittenAt, t.Archived = w.id, h.now().UTC(), archived
		if !archived && !w.keepHash {
			t.Hash, t.Echo = echoHash, nil
		}
		if w.keepHash {
			t.AddEcho(w.echo)
		}
		if !w.keepHash {
			t.Version, t.Seen = max(t.Version, w.version), max(t.Seen, w.version)
			t.EchoVersion = max(t.EchoVersion, w.version)
		}
		// else the write changed nothing the other direction maps: the
		// target's version after it may hold a user's change made just
		// before (say a payment), which must still sync, so the last
		// synced version stays where it was.
		l.Sides[target] = t
		s := l.Sides[in.Source]
		s.Version, s.Hash, s.Echo, s.Related = max(s.Version, version), r.SourceHash, nil, r.SourceRelated
		if !archived {
			s.Filled = links.FilledFields(r.Fields)
		}
		l.Sides[in.Source] = s
		return nil
	})
	if err != nil {
		return nil, syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("commit link: %w", err))
	}
	if err := h.links.Index(ctx, in.Connection, in.Object, target, w.id, r.Pair); err != nil {
		return nil, syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	// Stamped when the write is done: the row says when the change reached
	// the other side (the change-to-other-side latency reads it).
	ev.Time = h.now().UTC()
	ev.Outcome, ev.Action = activity.OutcomeSuccess, record.ActionUpdate
	switch {
	case w.created:
		ev.Action = record.ActionCreate
	case archived:
		ev.Action = record.ActionArchive
	}
	if target == streams.SystemQBO {
		ev.QBOID = w.id
	} else {
		ev.HubSpotID = w.id
	}
	ev.Changes = activity.ChangesOf(r.Fields)
	if err := h.publish(ctx, ev); err != nil {
		return nil, err
	}
	if in.Object == streams.ObjectInvoice && target == streams.SystemQBO {
		return nil, h.publishFees(ctx, in.Connection, in.RecordID, r, w.id)
	}
	return nil, nil
}

// publishFees records the fees of each payment HubSpot collected on an
// invoice now in QBO: QBO gets the payment, not the fees, which the fees
// report sums for manual entry (P16).
func (h *handler) publishFees(ctx context.Context, conn, hubspotInvoiceID string, r record.Resolved, qboInvoiceID string) error {
	payments, err := record.DecodePayments(r.Fields[record.FieldPayments])
	if err != nil {
		return syncerr.Permanent(syncerr.CodeBadMessage, err)
	}
	for _, p := range payments {
		ev := activity.FeeEvent(h.now(), conn, activity.PaymentFee{PaymentID: p.ID, InvoiceID: hubspotInvoiceID, QBOInvoiceID: qboInvoiceID,
			PaidOn: p.Date, Currency: firstNonEmpty(p.Currency, r.Fields["CurrencyRef.value"]), Method: p.Method,
			Amount: p.Amount, ProcessingFee: p.ProcessingFee, PlatformFee: p.PlatformFee})
		if err := h.publish(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (h *handler) publish(ctx context.Context, ev activity.Event) error {
	if err := h.activity.Publish(ctx, ev); err != nil {
		return syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	return nil
}

func (h *handler) event(in envelope.Envelope, l links.Link) activity.Event {
	ev := activity.Event{
		EventID: activity.DerivedID(Stage, in.MsgID()), Time: h.now().UTC(), Connection: in.Connection, Object: string(in.Object),
		Stage: Stage, MessageID: in.MsgID(), ReplayID: in.ReplayID,
	}
	ev.Record(in.Source, in.RecordID)
	other := links.Other(in.Source)
	ev.SetID(other, l.Sides[other].ID)
	return ev
}

type replayKey struct{}

// createRequestID is the requestid of a QBO create of pair. QBO answers a
// repeated requestid with its first answer, fault included, so a create
// redriven or replayed by an operator (the cause was fixed meanwhile)
// carries the run's id: under the old id QBO would hand back the old
// fault. Retries within one run keep one id; the lookups by match key and
// the link index still guard against a second record.
func createRequestID(ctx context.Context, conn, pair string) string {
	if run, _ := ctx.Value(replayKey{}).(string); run != "" {
		return qbo.RequestID(conn, pair, "create", run)
	}
	return qbo.RequestID(conn, pair, "create")
}

// writeCustomer creates or updates the QBO customer of the link.
func (h *handler) writeCustomer(ctx context.Context, conn connection.Connection, l links.Link, r record.Resolved) (written, error) {
	cl, err := h.clients.QBO(conn)
	if err != nil {
		return written{}, syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	cust, err := customerFromFields(r.Fields)
	if err != nil {
		return written{}, err
	}
	id := l.Sides[streams.SystemQBO].ID
	var out *qbo.Customer
	created := false
	switch {
	case id == "" && r.MatchKey != "":
		// First sight: an existing customer with this email is linked,
		// never duplicated. New customers of this moment share batch
		// calls (customers_batch.go).
		key := conn.ID + "/" + strconv.FormatBool(lanes.IsBackfill(ctx))
		res, berr := h.customerWrites.do(ctx, key, customerWrite{cl: cl, email: r.MatchKey, cust: cust,
			requestID: createRequestID(ctx, conn.ID, r.Pair)})
		out, created, err = res.out, res.created, berr
	case id == "":
		// Nothing to look up by: the requestid keeps a retried create from
		// making a second customer.
		out, err = cl.CreateCustomer(ctx, cust, qbo.WithRequestID(createRequestID(ctx, conn.ID, r.Pair)))
		created = true
	default:
		cur, gerr := cl.GetCustomer(ctx, id)
		if gerr != nil {
			return written{}, gerr
		}
		cust.ID, cust.SyncToken = cur.ID, cur.SyncToken
		// What the contact lost since the last sync, the customer loses.
		out, err = cl.UpdateCustomer(ctx, cust, qbo.WithCleared(clearable(l.Sides[streams.SystemHubSpot].Cleared(r.Fields), customerBools, customerNumbers)...))
	}
	if err != nil {
		return written{}, err
	}
	fields, err := record.FlattenValue(out)
	if err != nil {
		return written{}, err
	}
	return written{id: out.ID, version: qbo.Version(out.MetaData, out.SyncToken).UnixMilli(), fields: fields, created: created}, nil
}

var customerBools = map[string]bool{"Active": true, "Taxable": true, "Job": true}
var customerNumbers = map[string]bool{"Balance": true}

// customerFromFields builds the customer to write from mapped QBO fields.
func customerFromFields(fields map[string]string) (*qbo.Customer, error) {
	return fromFields[qbo.Customer](fields, customerBools, customerNumbers, "customer")
}

// writeContact creates or updates the HubSpot contact of the link.
func (h *handler) writeContact(ctx context.Context, conn connection.Connection, l links.Link, r record.Resolved) (written, error) {
	cl, err := h.clients.HubSpot(conn)
	if err != nil {
		return written{}, syncerr.Transient("CONNECTION_NOT_CONNECTED", err)
	}
	props := map[string]string{}
	for k, v := range r.Fields {
		if v != "" {
			props[k] = v
		}
	}
	id := l.Sides[streams.SystemHubSpot].ID
	if id == "" && props[hubspot.PropEmail] != "" {
		// A new contact goes out in a batch upsert by email with the
		// other new contacts of this moment (contacts_batch.go).
		key := conn.ID + "/" + strconv.FormatBool(lanes.IsBackfill(ctx))
		res, err := h.contactUpserts.do(ctx, key, contactUpsert{cl: cl, input: hubspot.UpdateInput{ID: props[hubspot.PropEmail], IDProperty: hubspot.PropEmail, Properties: props}})
		if err != nil {
			return written{}, err
		}
		return hubspotWritten(res.obj, props, res.created), nil
	}
	if id == "" && r.MatchKey != "" {
		found, err := cl.GetBy(ctx, hubspot.Contacts, "email", r.MatchKey, nil, nil)
		switch {
		case err == nil:
			id = found.ID
		case syncerr.CodeOf(err) != hubspot.CodeNotFound:
			return written{}, err
		}
	}
	var out *hubspot.Object
	created := false
	if id == "" {
		out, err = cl.Create(ctx, hubspot.Contacts, props)
		if existing, ok := hubspot.ExistingID(err); ok {
			// Created meanwhile (or a retried create that had happened).
			id, err = existing, nil
		} else {
			created = err == nil
		}
	}
	if id != "" && out == nil && err == nil {
		// What the customer lost since the last sync, the contact loses
		// (HubSpot clears a property set to "").
		for _, f := range l.Sides[streams.SystemQBO].Cleared(r.Fields) {
			props[f] = ""
		}
		out, err = cl.Update(ctx, hubspot.Contacts, id, props)
	}
	if err != nil {
		return written{}, err
	}
	// The echo carries what the contact holds now; the written properties
	// are what the mapping reads back.
	return hubspotWritten(out, props, created), nil
}

// hubspotWritten is the result of a HubSpot write: the record as HubSpot
// answered, with the written properties over it (an answer may leave some
// out), which is what the mapping reads back for the echo.
func hubspotWritten(out *hubspot.Object, props map[string]string, created bool) written {
	fields := maps.Clone(out.Properties)
	if fields == nil {
		fields = map[string]string{}
	}
	maps.Copy(fields, props)
	return written{id: out.ID, version: out.UpdatedAt.UnixMilli(), fields: fields, created: created}
}

// linkedID is the id on system to of the record linked to id on system
// from; with no such record yet the caller waits (bounded) with why.
func (h *handler) linkedID(ctx context.Context, conn connection.Connection, object streams.Object, from streams.System, id string,
	why string) (string, error) {
	l, ok, err := h.links.Of(ctx, conn.ID, object, from, id)
	if err != nil {
		return "", syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	if other := l.Sides[links.Other(from)].ID; ok && other != "" {
		return other, nil
	}
	return "", syncerr.WaitUpTo(CodeDependencyMissing, waitStep, h.dependencyWait, errors.New(why))
}
