package ingestor

import (
	"context"
	"errors"
	"fmt"
	"github.com/ledgersync/ledgersync/pkg/progress"
	"log/slog"
	"math"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/lanes"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// pollTarget is one connection, side and object to poll.
type pollTarget struct {
	conn    string
	system  streams.System
	account string
	reader  *reader
}

func (t pollTarget) object() streams.Object { return t.reader.object }

func (t pollTarget) key() string { return LeaseKey(t.conn, t.system, t.object()) }

// LeaseKey is the leases-bucket key of the poller of conn, system and object.
func LeaseKey(conn string, system streams.System, object streams.Object) string {
	return "poll." + conn + "." + string(system) + "." + string(object)
}

// CursorKey is the cursors-bucket key of the cursor of conn, system and object.
func CursorKey(conn string, system streams.System, object streams.Object) string {
	return "cursor." + conn + "." + string(system) + "." + string(object)
}

// BackfillKey is the cursors-bucket key of the backfill progress of conn,
// system and object.
func BackfillKey(conn string, system streams.System, object streams.Object) string {
	return progress.Key(conn, system, object)
}

// Cursor is a poller's position, stored as JSON under CursorKey.
type Cursor struct {
	// Since: every change modified before it has been published.
	Since time.Time `json:"since"`
	// ID is HubSpot's tie-break: records at exactly Since with an id up to
	// ID have been published too.
	ID string `json:"id,omitempty"`
	// Recent holds record id -> version (Unix ms) of records published in
	// the overlap window, so an overlapping poll does not publish them again.
	Recent map[string]int64 `json:"recent,omitempty"`
	// BackfillRun is an operator's request (`syncd backfill`, see
	// RequestBackfill): the poll leader reads everything again under this
	// run id, then writes a fresh cursor without it.
	BackfillRun string `json:"backfill_run,omitempty"`
	// ArchivedSince (HubSpot): archivals before it have been published;
	// the next sweep of archived records starts there.
	ArchivedSince time.Time `json:"archived_since,omitzero"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Backfill is the first sync's progress, stored under BackfillKey.
type Backfill = progress.Backfill

const maxRecent = 5000

// errLeaseLost ends a round of polling when another instance holds the lease.
var errLeaseLost = errors.New("poll lease lost")

// runPoller competes for the lease of t and, while it holds it, backfills
// (once) and polls every PollInterval.
func (s *Service) runPoller(ctx context.Context, t pollTarget) {
	key := t.key()
	log := s.log.With(logging.KeyConnection, t.conn, slog.String("system", string(t.system)), logging.KeyObject, string(t.object()))
	for {
		if s.acquire(ctx, key) {
			s.lead(ctx, t, key, log)
		}
		if sleep(ctx, s.cfg.LeaseRenew) != nil {
			return
		}
	}
}

// acquire takes the lease when it is free (or already ours).
func (s *Service) acquire(ctx context.Context, key string) bool {
	_, err := s.leases.Create(ctx, key, []byte(s.instance))
	if err == nil {
		return true
	}
	if e, gerr := s.leases.Get(ctx, key); gerr == nil && string(e.Value()) == s.instance {
		_, uerr := s.leases.Update(ctx, key, []byte(s.instance), e.Revision())
		return uerr == nil
	}
	return false
}

// lead polls while the lease is renewed; it releases the lease on return.
func (s *Service) lead(ctx context.Context, t pollTarget, key string, log *slog.Logger) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.leaseMu.Lock()
	s.held[key] = true
	s.leaseMu.Unlock()
	defer func() {
		s.leaseMu.Lock()
		delete(s.held, key)
		s.leaseMu.Unlock()
		// release, so another replica takes over at once
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		if e, err := s.leases.Get(rctx, key); err == nil && string(e.Value()) == s.instance {
			_ = s.leases.Delete(rctx, key, jetstream.LastRevision(e.Revision()))
		}
	}()
	log.Info("poll lease taken")
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		defer cancel()
		for {
			if sleep(lctx, s.cfg.LeaseRenew) != nil {
				return
			}
			if !s.acquire(lctx, key) {
				if lctx.Err() == nil {
					log.Warn("poll lease lost")
				}
				return
			}
		}
	}()
	defer func() { cancel(); <-renewDone }()
	for {
		err := s.pollOnce(lctx, t, log)
		if lctx.Err() != nil {
			return
		}
		delay := s.cfg.PollInterval
		if err != nil {
			if errors.Is(err, errLeaseLost) {
				return
			}
			log.Warn("poll failed", slog.String("error_code", string(syncerr.CodeOf(err))), logging.KeyError, err)
			if ra := syncerr.RetryAfterOf(err); ra > delay {
				delay = ra
			}
		}
		if sleep(lctx, delay) != nil {
			return
		}
	}
}

// pollOnce backfills when there is no cursor, else polls since the cursor.
func (s *Service) pollOnce(ctx context.Context, t pollTarget, log *slog.Logger) error {
	c, ok := s.connection(t.conn)
	if !ok || accountOf(c, t.system) != t.account {
		return nil
	}
	cur, rev, err := s.loadCursor(ctx, t)
	if err != nil {
		return err
	}
	if rev == 0 || cur.BackfillRun != "" || (t.system == streams.SystemQBO && s.now().Sub(cur.Since) > qbo.CDCWindow-time.Hour) {
		return s.backfill(ctx, t, rev, cur.BackfillRun, log)
	}
	if t.system == streams.SystemQBO {
		return s.pollQBO(ctx, t, cur, rev)
	}
	return s.pollHubSpot(ctx, t, cur, rev)
}

func (s *Service) loadCursor(ctx context.Context, t pollTarget) (Cursor, uint64, error) {
	e, err := s.cursors.Get(ctx, CursorKey(t.conn, t.system, t.object()))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Cursor{}, 0, nil
	}
	if err != nil {
		return Cursor{}, 0, syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	var cur Cursor
	if err := json.Unmarshal(e.Value(), &cur); err != nil {
		return Cursor{}, 0, fmt.Errorf("cursor %s: %w", e.Key(), err)
	}
	return cur, e.Revision(), nil
}

// saveCursor writes the cursor under compare-and-set: a conflict means
// another instance polls this side, and this one stops.
func (s *Service) saveCursor(ctx context.Context, t pollTarget, cur Cursor, rev uint64) (uint64, error) {
	cur.UpdatedAt = s.now().UTC()
	body, err := json.Marshal(cur)
	if err != nil {
		return rev, err
	}
	key := CursorKey(t.conn, t.system, t.object())
	var next uint64
	if rev == 0 {
		next, err = s.cursors.Create(ctx, key, body)
	} else {
		next, err = s.cursors.Update(ctx, key, body, rev)
	}
	if err != nil {
		// A lost compare-and-set: ErrKeyExists from Create,
		// ErrKeyRevisionMismatch from Update (code 10071, or 10164 on a
		// replicated bucket, which matches neither ErrKeyExists nor 10071).
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return rev, errLeaseLost
		}
		return rev, syncerr.Transient(syncerr.CodeUnavailable, err)
	}
	return next, nil
}

// remember adds published records to the cursor's overlap set and prunes
// what fell out of the window before Since.
func (s *Service) remember(cur *Cursor, recs []ingested, from time.Time) {
	if cur.Recent == nil {
		cur.Recent = map[string]int64{}
	}
	for _, r := range recs {
		cur.Recent[r.id] = r.version.UnixMilli()
	}
	cut := from.UnixMilli()
	for id, v := range cur.Recent {
		if v < cut {
			delete(cur.Recent, id)
		}
	}
	// After a burst, forget some (any): at worst they are published again
	// and the stream's duplicate window or the resolver drops them.
	for id := range cur.Recent {
		if len(cur.Recent) <= maxRecent {
			break
		}
		delete(cur.Recent, id)
	}
}

// fresh drops records already published at the same version.
func fresh(cur Cursor, recs []ingested) []ingested {
	out := recs[:0:0]
	for _, r := range recs {
		if v, ok := cur.Recent[r.id]; ok && v == r.version.UnixMilli() {
			continue
		}
		out = append(out, r)
	}
	return out
}

// --- HubSpot poll ----------------------------------------------------------------

func (s *Service) pollHubSpot(ctx context.Context, t pollTarget, cur Cursor, rev uint64) error {
	c, _ := s.connection(t.conn)
	cl, err := s.clients.HubSpot(c)
	if err != nil {
		return err
	}
	from := cur.Since.Add(-s.cfg.PollOverlap)
	var page []hubspot.Object
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		recs, err := t.reader.hsEnrich(ctx, cl, page)
		if err != nil {
			return err
		}
		page = page[:0]
		recs = fresh(cur, recs)
		if err := s.publish(ctx, t.conn, t.system, recs); err != nil {
			return err
		}
		s.remember(&cur, recs, from)
		return nil
	}
	seen, published := 0, 0
	last, err := cl.ScanModifiedSince(ctx, t.reader.hsType, hubspot.Cursor{Time: from}, t.reader.properties(c), func(o hubspot.Object) error {
		seen++
		if v, ok := cur.Recent[o.ID]; ok && v == hubspotVersion(o).UnixMilli() {
			return nil // published already (overlap window)
		}
		published++
		page = append(page, o)
		if len(page) >= hubspot.MaxSearchLimit {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	s.log.Debug("hubspot poll", slog.String("connection", t.conn), slog.String("object", string(t.object())),
		slog.Time("from", from), slog.Int("seen", seen), slog.Int("published", published), slog.Time("last", last.Time))
	if last.Time.After(cur.Since) || (last.Time.Equal(cur.Since) && last.ID > cur.ID) {
		cur.Since, cur.ID = last.Time, last.ID
	}
	if err := s.sweepArchived(ctx, t, cl, &cur); err != nil {
		return err
	}
	s.remember(&cur, nil, cur.Since.Add(-s.cfg.PollOverlap))
	_, err = s.saveCursor(ctx, t, cur, rev)
	return err
}

// sweepArchived publishes the records archived since the last sweep, every
// ArchivedSweep: search leaves archived records out, so without it a
// deletion whose webhook never came would go unnoticed. The list is read
// whole (it is ordered by id, not by archival), which is why it runs
// seldom.
func (s *Service) sweepArchived(ctx context.Context, t pollTarget, cl *hubspot.Client, cur *Cursor) error {
	now := s.now().UTC()
	if cur.ArchivedSince.IsZero() {
		cur.ArchivedSince = now.Add(-s.cfg.ArchivedSweep) // a cursor from before sweeps existed
	}
	if now.Sub(cur.ArchivedSince) < s.cfg.ArchivedSweep+s.cfg.PollOverlap {
		return nil
	}
	from := cur.ArchivedSince
	var recs []ingested
	after := ""
	for {
		page, err := cl.List(ctx, t.reader.hsType, hubspot.ListOptions{After: after, Archived: true, Properties: []string{"hs_object_id"}})
		if err != nil {
			return err
		}
		for _, o := range page.Results {
			if !o.ArchivedAt.Before(from) {
				recs = append(recs, deletedRecord(t.object(), t.system, o.ID, o.ArchivedAt))
			}
		}
		if page.After == "" {
			break
		}
		after = page.After
	}
	if err := s.publish(ctx, t.conn, t.system, recs); err != nil {
		return err
	}
	// The overlap covers archivals the list shows late.
	cur.ArchivedSince = now.Add(-s.cfg.PollOverlap)
	return nil
}

// --- QBO poll ------------------------------------------------------------------------

func (s *Service) pollQBO(ctx context.Context, t pollTarget, cur Cursor, rev uint64) error {
	c, _ := s.connection(t.conn)
	cl, err := s.clients.QBO(c)
	if err != nil {
		return err
	}
	for {
		start := s.now()
		from := cur.Since.Add(-s.cfg.PollOverlap)
		res, err := cl.CDC(ctx, []string{t.reader.qboEntity}, from)
		if err != nil {
			return err
		}
		recs, err := t.reader.qboCDC(res)
		if err != nil {
			return err
		}
		maxSeen := cur.Since
		for _, d := range res.Deleted[t.reader.qboEntity] {
			at := d.LastUpdated
			if at.IsZero() {
				at = start
			}
			recs = append(recs, deletedRecord(t.object(), streams.SystemQBO, d.ID, at))
		}
		for _, r := range recs {
			if r.version.After(maxSeen) {
				maxSeen = r.version
			}
		}
		recs = fresh(cur, recs)
		if err := s.publish(ctx, t.conn, t.system, recs); err != nil {
			return err
		}
		s.remember(&cur, recs, from)
		if res.Full() {
			cur.Since = maxSeen // more to read: go on from the last change seen
		} else if next := start.Add(-s.cfg.PollOverlap); next.After(cur.Since) {
			// everything up to the start of this poll has been seen
			cur.Since = maxTime(maxSeen, next)
		} else {
			cur.Since = maxTime(maxSeen, cur.Since)
		}
		s.remember(&cur, nil, cur.Since.Add(-s.cfg.PollOverlap))
		if rev, err = s.saveCursor(ctx, t, cur, rev); err != nil {
			return err
		}
		if !res.Full() {
			return nil
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// --- backfill -------------------------------------------------------------------------

// backfill reads every record of the target's object (QBO: inactive ones
// too), publishes each, then sets the cursor to the start of the backfill
// (minus the overlap), so the poller picks up what changed meanwhile. run
// is an operator's request (empty for the first sync); the cursor is
// replaced under compare-and-set with the revision it was read at, so a
// request made while this runs fails the write and is served next.
func (s *Service) backfill(ctx context.Context, t pollTarget, rev uint64, run string, log *slog.Logger) error {
	c, _ := s.connection(t.conn)
	start := s.now()
	prog := Backfill{Connection: t.conn, System: t.system, Object: t.object(), State: "running", StartedAt: start.UTC(), Run: run}
	lastLog := time.Time{}
	report := func(final bool) {
		now := s.now()
		elapsed := now.Sub(start).Seconds()
		if elapsed > 0 {
			prog.RatePerSec = math.Round(float64(prog.Done)/elapsed*10) / 10
		}
		if prog.RatePerSec > 0 && prog.Total > prog.Done {
			prog.ETASeconds = math.Round(float64(prog.Total-prog.Done) / prog.RatePerSec)
		} else {
			prog.ETASeconds = 0
		}
		prog.UpdatedAt = now.UTC()
		if final {
			prog.State, prog.FinishedAt = "done", now.UTC()
		}
		if body, err := json.Marshal(prog); err == nil {
			if _, err := s.cursors.Put(ctx, BackfillKey(t.conn, t.system, t.object()), body); err != nil {
				log.Warn("backfill progress not stored", logging.KeyError, err)
			}
		}
		if final || now.Sub(lastLog) >= 5*time.Second {
			lastLog = now
			log.Info("backfill progress", slog.String("state", prog.State), slog.Int("done", prog.Done), slog.Int("total", prog.Total),
				slog.Float64("rate_per_sec", prog.RatePerSec), slog.Float64("eta_seconds", prog.ETASeconds))
		}
	}
	// Its API calls take the first-sync lane's share of the account budget.
	bctx := lanes.Backfill(ctx)
	var err error
	if t.system == streams.SystemQBO {
		err = s.backfillQBO(bctx, t, c, &prog, report)
	} else {
		err = s.backfillHubSpot(bctx, t, c, &prog, report)
	}
	if err != nil {
		return err
	}
	if prog.Total < prog.Done {
		prog.Total = prog.Done
	}
	cur := Cursor{Since: start.Add(-s.cfg.PollOverlap).UTC()}
	if t.system == streams.SystemHubSpot {
		cur.ArchivedSince = cur.Since // the backfill read only live records
	}
	if _, err := s.saveCursor(ctx, t, cur, rev); err != nil {
		return err
	}
	report(true)
	return nil
}

func (s *Service) backfillHubSpot(ctx context.Context, t pollTarget, c connection.Connection, prog *Backfill, report func(bool)) error {
	cl, err := s.clients.HubSpot(c)
	if err != nil {
		return err
	}
	if p, err := cl.Search(ctx, t.reader.hsType, hubspot.SearchRequest{Limit: 1}); err == nil {
		prog.Total = p.Total
	}
	report(false)
	after := ""
	for {
		page, err := cl.List(ctx, t.reader.hsType, hubspot.ListOptions{Limit: 100, After: after, Properties: t.reader.properties(c)})
		if err != nil {
			return err
		}
		recs, err := t.reader.hsEnrich(ctx, cl, page.Results)
		if err != nil {
			return err
		}
		if err := s.publishRun(ctx, t.conn, t.system, recs, streams.LaneBackfill, prog.Run); err != nil {
			return err
		}
		prog.Done += len(recs)
		report(false)
		if page.After == "" {
			return nil
		}
		after = page.After
	}
}

func (s *Service) backfillQBO(ctx context.Context, t pollTarget, c connection.Connection, prog *Backfill, report func(bool)) error {
	cl, err := s.clients.QBO(c)
	if err != nil {
		return err
	}
	if n, err := cl.Count(ctx, t.reader.qboEntity, t.reader.qboWhere); err == nil {
		prog.Total = n
	}
	report(false)
	var batch []ingested
	flush := func() error {
		if err := s.publishRun(ctx, t.conn, t.system, batch, streams.LaneBackfill, prog.Run); err != nil {
			return err
		}
		prog.Done += len(batch)
		batch = batch[:0]
		report(false)
		return nil
	}
	err = t.reader.qboEach(ctx, cl, func(r ingested) error {
		batch = append(batch, r)
		if len(batch) >= 100 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
