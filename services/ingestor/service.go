package ingestor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/clients"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/envelope"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/natsconn"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/record"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/streams"
)

// Service is the ingestor target: webhook receivers (mounted with Routes)
// and the pollers (started by Run).
type Service struct {
	cfg      Config
	js       jetstream.JetStream
	log      *slog.Logger
	hc       *http.Client
	now      func() time.Time
	instance string

	tokens   *tokens.Store
	connKV   jetstream.KeyValue
	cursors  jetstream.KeyValue
	leases   jetstream.KeyValue
	activity *activity.Publisher
	// links tells a QBO webhook notice of a version already synced (most
	// often our own write coming back) so it is not fetched.
	links *links.Store

	connMu sync.RWMutex
	conns  map[string]connection.Connection
	// connRevs holds the bucket revision of each connection's settings,
	// carried in envelopes so later stages apply these settings or newer.
	connRevs map[string]uint64
	ready    chan struct{}

	clients *clients.Factory

	queue chan notice
	// acceptMu orders the intake of webhooks against shutdown: once
	// stopping is set, nothing more joins the queue.
	acceptMu sync.RWMutex
	stopping bool
	// queued holds the notices waiting in queue, so a burst of notices for
	// one record makes one fetch.
	queuedMu sync.Mutex
	queued   map[string]bool

	leaseMu sync.Mutex
	held    map[string]bool // lease keys this instance holds
}

// New builds the service on js: it opens the connections, tokens, cursors
// and leases buckets (they must exist: streams.Ensure).
func New(ctx context.Context, cfg Config, js jetstream.JetStream, logger *slog.Logger, opts ...Option) (*Service, error) {
	if logger == nil {
		logger = logging.Discard()
	}
	s := &Service{cfg: cfg, js: js, log: logger.With(slog.String(logging.KeyStage, Stage)), now: time.Now,
		instance: uuid.NewString(), conns: map[string]connection.Connection{}, connRevs: map[string]uint64{}, ready: make(chan struct{}),
		held: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	if s.hc == nil {
		s.hc = clients.NewHTTPClient()
		s.hc.Timeout = 30 * time.Second
	}
	if s.cfg.WebhookQueue <= 0 {
		s.cfg.WebhookQueue = 1000
	}
	if s.cfg.WebhookWorkers <= 0 {
		s.cfg.WebhookWorkers = 8
	}
	if s.cfg.LeaseRenew <= 0 {
		s.cfg.LeaseRenew = 10 * time.Second
	}
	if s.cfg.PollInterval <= 0 {
		s.cfg.PollInterval = 30 * time.Second
	}
	if s.cfg.WebhookMaxAge <= 0 {
		s.cfg.WebhookMaxAge = 5 * time.Minute
	}
	s.queue = make(chan notice, s.cfg.WebhookQueue)
	s.queued = map[string]bool{}
	crypt, err := tokens.NewCrypter(cfg.Keys)
	if err != nil {
		return nil, err
	}
	open := func(name string) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("%s bucket: %w", name, err)
		}
		return kv, nil
	}
	tokKV, err := open(streams.BucketTokens)
	if err != nil {
		return nil, err
	}
	s.tokens = tokens.NewStore(tokKV, crypt)
	s.clients = clients.NewFactory(cfg.Apps, s.tokens, s.log, s.hc)
	if s.connKV, err = open(streams.BucketConnections); err != nil {
		return nil, err
	}
	if s.cursors, err = open(streams.BucketCursors); err != nil {
		return nil, err
	}
	if s.leases, err = open(streams.BucketLeases); err != nil {
		return nil, err
	}
	linkKV, err := open(streams.BucketLinks)
	if err != nil {
		return nil, err
	}
	indexKV, err := open(streams.BucketLinkIndex)
	if err != nil {
		return nil, err
	}
	s.links = links.NewStore(linkKV, indexKV, js.Conn())
	s.activity = activity.NewPublisher(js)
	return s, nil
}

// drainTimeout bounds emptying the webhook queue at shutdown.
const drainTimeout = 15 * time.Second

// Run watches the connections, runs the webhook workers and one poller per
// connection and side until ctx is cancelled; held leases are released.
func (s *Service) Run(ctx context.Context) error {
	w, err := s.connKV.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch connections: %w", err)
	}
	defer w.Stop()
	// Queued webhook notices were answered 200: they are fetched and
	// published after ctx ends, within the drain time.
	// A fetch still waiting for its turn in the account's budget when the
	// stop begins gives up (drain.WithStopping): the poller reads that
	// change on the next start.
	work, cancelWork := context.WithCancel(drain.WithStopping(context.WithoutCancel(ctx), ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	groups := make(chan []notice)
	wg.Go(func() { s.gatherNotices(ctx, work, groups) })
	for range s.cfg.WebhookWorkers {
		wg.Go(func() {
			for g := range groups {
				s.handleGroup(work, g)
			}
		})
	}
	pollers := map[string]context.CancelFunc{}
	stopAll := func() {
		for _, c := range pollers {
			c()
		}
	}
	reconcile := func() {
		want := map[string]pollTarget{}
		s.connMu.RLock()
		for _, c := range s.conns {
			for _, r := range readers {
				for _, sys := range []streams.System{streams.SystemHubSpot, streams.SystemQBO} {
					if ingests(c, r.object, sys) && accountOf(c, sys) != "" {
						t := pollTarget{conn: c.ID, system: sys, account: accountOf(c, sys), reader: r}
						want[t.key()] = t
					}
				}
			}
		}
		s.connMu.RUnlock()
		for k, cancel := range pollers {
			if _, ok := want[k]; !ok {
				cancel()
				delete(pollers, k)
			}
		}
		for k, t := range want {
			if _, ok := pollers[k]; ok {
				continue
			}
			pctx, cancel := context.WithCancel(ctx)
			pollers[k] = cancel
			wg.Go(func() { s.runPoller(pctx, t) })
		}
	}
	initial := true
	for {
		select {
		case <-ctx.Done():
			stopAll()
			drain := time.AfterFunc(pipeline.Grace(ctx, drainTimeout), cancelWork)
			wg.Wait()
			drain.Stop()
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.activity.Flush(flushCtx)
			cancel()
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				stopAll()
				wg.Wait()
				return errors.New("connections watch ended")
			}
			if e == nil {
				if initial {
					initial = false
					close(s.ready)
				}
				reconcile()
				continue
			}
			s.applyConn(e)
			if !initial {
				reconcile()
			}
		}
	}
}

func (s *Service) applyConn(e jetstream.KeyValueEntry) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.conns, e.Key())
		delete(s.connRevs, e.Key())
		return
	}
	var c connection.Connection
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		s.log.Error("unreadable connection in the bucket; keeping the previous version", logging.KeyConnection, e.Key(), logging.KeyError, err)
		return
	}
	s.conns[e.Key()] = c
	s.connRevs[e.Key()] = e.Revision()
}

// waitReady waits until the connections are loaded (webhooks arriving at
// start must not be matched against an empty list).
func (s *Service) waitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connectionsFor returns the connections of an account on system that
// ingest contacts from it, by id.
func (s *Service) connectionsFor(object streams.Object, system streams.System, account string) []connection.Connection {
	s.connMu.RLock()
	defer s.connMu.RUnlock()
	var out []connection.Connection
	for _, c := range s.conns {
		if accountOf(c, system) == account && ingests(c, object, system) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Service) connection(id string) (connection.Connection, bool) {
	s.connMu.RLock()
	defer s.connMu.RUnlock()
	c, ok := s.conns[id]
	return c, ok
}

// ingests reports whether object's records of c are read from system: the
// object is enabled, its direction moves records from there, and both
// sides are connected. A connection with one account so far reads
// nothing: what it read could only wait, retrying, for the other side.
func ingests(c connection.Connection, object streams.Object, system streams.System) bool {
	o := c.Object(object)
	return o.Enabled && o.Direction.Moves(system) && c.HubSpot.PortalID != "" && c.QBO.RealmID != ""
}

func accountOf(c connection.Connection, system streams.System) string {
	if system == streams.SystemQBO {
		return c.QBO.RealmID
	}
	return c.HubSpot.PortalID
}

// Holding lists the poll leases this instance holds ("poll.<conn>.<system>").
func (s *Service) Holding() []string {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	out := make([]string, 0, len(s.held))
	for k := range s.held {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// --- publishing ------------------------------------------------------------------

// ingested is one record ready to publish.
type ingested struct {
	object     streams.Object
	id         string
	version    time.Time // last modification at the source
	rec        record.Ingested
	occurredAt time.Time
}

func versionString(t time.Time) string {
	if t.IsZero() || t.UnixMilli() < 0 {
		return "0"
	}
	return fmt.Sprintf("%d", t.UnixMilli())
}

// publish sends the records of one connection and side and waits for the
// stream's acks. A record seen twice (webhook and poll) has the same
// Nats-Msg-Id and is stored once.
func (s *Service) publish(ctx context.Context, conn string, source streams.System, recs []ingested) error {
	return s.publishLane(ctx, conn, source, recs, streams.LaneLive)
}

// publishLane is publish in a lane: the backfill marks its records so the
// writer takes them in the first-sync lane.
func (s *Service) publishLane(ctx context.Context, conn string, source streams.System, recs []ingested, lane streams.Lane) error {
	return s.publishRun(ctx, conn, source, recs, lane, "")
}

// publishRun is publishLane for an operator's run (`syncd backfill`): run
// rides in each envelope as its replay id, so the records get message ids
// of their own (the duplicate window would drop a re-read otherwise), the
// activity rows name the run, and the resolver and writer re-sync a record
// whose mapping changed since its version last synced.
func (s *Service) publishRun(ctx context.Context, conn string, source streams.System, recs []ingested, lane streams.Lane, run string) error {
	futures := make([]jetstream.PubAckFuture, 0, len(recs))
	envs := make([]envelope.Envelope, 0, len(recs))
	// The rows are dated before the publish: the transformer may handle a
	// record, and the resolver record it as synced (an echo, nothing to
	// write), before its publish ack is read here, and a later ingestor row
	// would leave the record "pending" in the status views.
	at := s.now().UTC()
	s.connMu.RLock()
	connRev := s.connRevs[conn]
	s.connMu.RUnlock()
	for _, r := range recs {
		payload, err := json.Marshal(r.rec)
		if err != nil {
			return err
		}
		occurred := r.occurredAt
		if occurred.IsZero() {
			occurred = r.version
		}
		digest := sha256.Sum256(payload)
		env := envelope.Envelope{Connection: conn, Object: r.object, Stage: streams.StageIngested, Source: source,
			RecordID: r.id, SourceVersion: versionString(r.version), Digest: hex.EncodeToString(digest[:6]),
			OccurredAt: occurred.UTC(), Payload: payload, Lane: lane, ReplayID: run, ConnectionRevision: connRev}
		msg, err := pipeline.OutputMsg(env)
		if err != nil {
			return syncerr.Permanent(syncerr.CodeBadMessage, err)
		}
		f, err := s.js.PublishMsgAsync(msg)
		if err != nil {
			return syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("publish %s: %w", msg.Subject, err))
		}
		futures = append(futures, f)
		envs = append(envs, env)
	}
	for i, f := range futures {
		// A stream electing a new leader (a cluster node lost) refuses
		// publishes for a few seconds: sent again rather than left to the
		// next poll.
		ack, retried, err := natsconn.AwaitPublishedAck(ctx, s.js, f, 20*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return syncerr.Transient(syncerr.CodeUnavailable, fmt.Errorf("publish %s: %w", f.Msg().Subject, err))
		}
		rowAt := at
		if ack.Duplicate {
			if !retried {
				// Published before (a webhook and a poll saw the same
				// change): the stream dropped it, so no stage follows it;
				// a row here would leave the record "pending" after it
				// synced.
				continue
			}
			// Sent again during an election and found stored: by our first
			// attempt, or by an earlier publish of the same change, whose
			// record may have synced long ago. Dated when it was stored
			// (the same event id as that publish's row), the row never
			// comes after the stages that followed it.
			stored, ok := s.storedAt(ctx, ack)
			if !ok {
				continue // unknown: no row rather than one that may come after the record synced
			}
			if stored.Before(rowAt) {
				rowAt = stored
			}
		}
		s.recordSuccess(envs[i], recs[i].rec.Deleted, rowAt)
		pipeline.CountRecords(Stage, string(envs[i].Object), pipeline.OutcomeOK, 1)
	}
	return nil
}

// storedAt is when the stream stored the message an ack names.
func (s *Service) storedAt(ctx context.Context, ack *jetstream.PubAck) (time.Time, bool) {
	st, err := s.js.Stream(ctx, ack.Stream)
	if err != nil {
		return time.Time{}, false
	}
	m, err := st.GetMsg(ctx, ack.Sequence)
	if err != nil {
		return time.Time{}, false
	}
	return m.Time.UTC(), true
}

// recordSuccess emits the activity row of a published record (best effort:
// the record itself is already safely in the stream).
func (s *Service) recordSuccess(env envelope.Envelope, deleted bool, at time.Time) {
	action := "fetch"
	if deleted {
		action = "delete"
	}
	ev := activity.Event{EventID: activity.DerivedID(Stage, env.MsgID()), Time: at, Connection: env.Connection,
		Object: string(env.Object), Stage: Stage, Action: action, Outcome: activity.OutcomeSuccess, MessageID: env.MsgID()}
	ev.Record(env.Source, env.RecordID)
	if _, err := s.activity.PublishAsync(ev); err != nil {
		s.log.Warn("activity event not published", logging.KeyError, err)
	}
}

// recordFailure emits a failed activity row (no personal data).
func (s *Service) recordFailure(conn string, object streams.Object, source streams.System, recordID string, action string, code syncerr.Code, msg string) {
	pipeline.CountFailure(Stage, code)
	pipeline.CountRecords(Stage, string(object), pipeline.OutcomeRetry, 1) // the poller catches up
	ev := activity.Event{EventID: activity.NewID(), Time: s.now().UTC(), Connection: conn, Object: string(object),
		SourceSystem: string(source), Stage: Stage, Action: action, Direction: string(connection.DirectionFrom(source)), Outcome: activity.OutcomeFailed, ErrorCode: string(code), ErrorMessage: msg}
	if recordID != "" {
		ev.Record(source, recordID)
	}
	if _, err := s.activity.PublishAsync(ev); err != nil {
		s.log.Warn("activity event not published", logging.KeyError, err)
	}
}
