package ingestor

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/drain"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/pipeline"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// CodeSignatureInvalid is the failure category of a webhook delivery whose
// signature is missing, wrong or stale.
const CodeSignatureInvalid syncerr.Code = "WEBHOOK_SIGNATURE_INVALID"

// Webhook paths.
const (
	PathHubSpotWebhook = "/webhooks/hubspot"
	PathQBOWebhook     = "/webhooks/qbo"
)

const maxWebhookBody = 4 << 20

// Routes mounts the webhook receivers on mux.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathHubSpotWebhook, s.hubspotWebhook)
	mux.HandleFunc("POST "+PathQBOWebhook, s.qboWebhook)
}

// notice is one record to fetch and publish because of a webhook.
type notice struct {
	reader  *reader
	system  streams.System
	account string // portal id or realm id
	id      string
	deleted bool      // the notice says the record is gone
	at      time.Time // when the change happened (for deletions)
}

// --- HubSpot -----------------------------------------------------------------

// hubspotEvent is the part of a v3 webhook event the ingestor reads.
type hubspotEvent struct {
	EventID          json.Number `json:"eventId"`
	PortalID         json.Number `json:"portalId"`
	OccurredAt       int64       `json:"occurredAt"`
	SubscriptionType string      `json:"subscriptionType"`
	ObjectID         json.Number `json:"objectId"`
	ObjectTypeID     string      `json:"objectTypeId"`
	FromObjectID     json.Number `json:"fromObjectId"`
	MergedObjectIDs  []int64     `json:"mergedObjectIds"`
	PrimaryObjectID  json.Number `json:"primaryObjectId"`
	AppID            json.Number `json:"appId"`
	ChangeSource     string      `json:"changeSource"`
	SourceID         string      `json:"sourceId"`
}

// ownWrite reports whether ev tells of a change this app made: HubSpot
// names the app that made an API change in sourceId, and the app the
// event is for in appId. Such a change is our own write coming back (P18):
// fetching it would spend the account's budget to learn what the writer
// already knows.
func (ev hubspotEvent) ownWrite() bool {
	if ev.ChangeSource != "INTEGRATION" && ev.ChangeSource != "API" {
		return false
	}
	return ev.SourceID != "" && ev.SourceID == ev.AppID.String()
}

func (s *Service) hubspotWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil || len(body) > maxWebhookBody {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if reason := s.verifyHubSpot(r, body); reason != "" {
		s.rejectWebhook(w, streams.SystemHubSpot, reason)
		return
	}
	var events []hubspotEvent
	if err := json.Unmarshal(body, &events); err != nil {
		http.Error(w, "body is not a JSON array of events", http.StatusBadRequest)
		return
	}
	var notices []notice
	seen := map[string]int{}
	// own: the notice's record changed only through this app's writes.
	var own []bool
	var ownEvents [][]string
	var ev hubspotEvent
	add := func(n notice) {
		k := string(n.reader.object) + "/" + n.account + "/" + n.id + "/" + strconv.FormatBool(n.deleted)
		if n.id == "" || n.id == "0" {
			return
		}
		i, ok := seen[k]
		if !ok {
			i = len(notices)
			seen[k] = i
			notices = append(notices, n)
			own = append(own, true)
			ownEvents = append(ownEvents, nil)
		}
		own[i] = own[i] && ev.ownWrite()
		ownEvents[i] = append(ownEvents[i], ev.EventID.String())
	}
	for _, ev = range events {
		typ := ev.SubscriptionType
		r := hubspotReaderOf(typ, ev.ObjectTypeID)
		if r == nil {
			continue
		}
		kind := typ[strings.IndexByte(typ, '.')+1:]
		at := time.UnixMilli(ev.OccurredAt).UTC()
		base := notice{reader: r, system: streams.SystemHubSpot, account: ev.PortalID.String(), at: at}
		switch kind {
		case "deletion", "privacyDeletion":
			n := base
			n.id, n.deleted = ev.ObjectID.String(), true
			add(n)
		case "associationChange":
			n := base
			n.id = ev.FromObjectID.String()
			if n.id == "" {
				n.id = ev.ObjectID.String()
			}
			add(n)
		case "merge":
			for _, m := range ev.MergedObjectIDs {
				n := base
				n.id, n.deleted = strconv.FormatInt(m, 10), true
				add(n)
			}
			n := base
			n.id = ev.PrimaryObjectID.String()
			if n.id == "" {
				n.id = ev.ObjectID.String()
			}
			add(n)
		default: // creation, propertyChange, restore
			n := base
			n.id = ev.ObjectID.String()
			add(n)
		}
	}
	fetch := notices[:0:0]
	for i, n := range notices {
		if own[i] {
			s.recordOwnWrite(n, ownEvents[i])
		} else {
			fetch = append(fetch, n)
		}
	}
	s.accept(w, fetch)
}

// recordOwnWrite records, for each connection that reads n's object from
// its portal, that a webhook brought back one of our own writes and that
// the record was not fetched for it.
func (s *Service) recordOwnWrite(n notice, eventIDs []string) {
	for _, c := range s.connectionsFor(n.reader.object, n.system, n.account) {
		ev := activity.Event{EventID: activity.DerivedID(Stage, "own-write", c.ID, strings.Join(eventIDs, ",")), Time: s.now().UTC(),
			Connection: c.ID, Object: string(n.reader.object), Stage: Stage, Action: "webhook", Outcome: activity.OutcomeSkippedEcho,
			ErrorMessage: "a change ledgersync made (the webhook names this app as its source): not fetched again"}
		ev.Record(n.system, n.id)
		if _, err := s.activity.PublishAsync(ev); err != nil {
			s.log.Warn("activity event not published", logging.KeyError, err)
		}
	}
}

// verifyHubSpot checks X-HubSpot-Signature-v3 (falling back to v1 when a
// delivery carries no v3 header) and returns why it failed, or "".
func (s *Service) verifyHubSpot(r *http.Request, body []byte) string {
	secret := s.cfg.HubSpot.ClientSecret.Reveal()
	if secret == "" {
		return "HUBSPOT_CLIENT_SECRET is not set"
	}
	sig := r.Header.Get("X-HubSpot-Signature-v3")
	if sig == "" {
		v1 := r.Header.Get("X-HubSpot-Signature")
		if v1 == "" || !strings.EqualFold(r.Header.Get("X-HubSpot-Signature-Version"), "v1") {
			return "no signature"
		}
		h := sha256.New()
		h.Write([]byte(secret))
		h.Write(body)
		if !hmac.Equal([]byte(hex.EncodeToString(h.Sum(nil))), []byte(strings.ToLower(v1))) {
			return "v1 signature mismatch"
		}
		return ""
	}
	tsHeader := r.Header.Get("X-HubSpot-Request-Timestamp")
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return "bad timestamp"
	}
	age := s.now().Sub(time.UnixMilli(ts))
	if age > s.cfg.WebhookMaxAge || age < -s.cfg.WebhookMaxAge {
		return "stale timestamp"
	}
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return "v3 signature not base64"
	}
	for _, uri := range s.signingURIs(r) {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(r.Method + uri))
		m.Write(body)
		m.Write([]byte(tsHeader))
		if hmac.Equal(m.Sum(nil), want) {
			return ""
		}
	}
	return "v3 signature mismatch"
}

// signingURI decodes the escapes HubSpot decodes before signing.
var signingURI = strings.NewReplacer("%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";")

// signingURIs are the full URLs HubSpot may have signed: the configured
// target URL, else the one rebuilt from the request.
func (s *Service) signingURIs(r *http.Request) []string {
	var out []string
	if s.cfg.HubSpotWebhookURL != "" {
		u := s.cfg.HubSpotWebhookURL
		if r.URL.RawQuery != "" && !strings.Contains(u, "?") {
			u += "?" + r.URL.RawQuery
		}
		out = append(out, signingURI.Replace(u))
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = strings.TrimSpace(strings.Split(p, ",")[0])
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = strings.TrimSpace(strings.Split(h, ",")[0])
	}
	out = append(out, signingURI.Replace(scheme+"://"+host+r.URL.RequestURI()))
	return out
}

// --- QBO ---------------------------------------------------------------------------

type qboLegacy struct {
	EventNotifications []struct {
		RealmID         string `json:"realmId"`
		DataChangeEvent struct {
			Entities []struct {
				Name        string `json:"name"`
				ID          string `json:"id"`
				Operation   string `json:"operation"`
				LastUpdated string `json:"lastUpdated"`
				DeletedID   string `json:"deletedId"`
			} `json:"entities"`
		} `json:"dataChangeEvent"`
	} `json:"eventNotifications"`
}

type qboCloudEvent struct {
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	IntuitEntityID  string          `json:"intuitentityid"`
	IntuitAccountID string          `json:"intuitaccountid"`
	Data            json.RawMessage `json:"data"`
}

func (s *Service) qboWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil || len(body) > maxWebhookBody {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if reason := s.verifyQBO(r, body); reason != "" {
		s.rejectWebhook(w, streams.SystemQBO, reason)
		return
	}
	var notices []notice
	seen := map[string]bool{}
	add := func(n notice) {
		k := n.account + "/" + n.id + "/" + strconv.FormatBool(n.deleted)
		if n.id != "" && !seen[k] {
			seen[k] = true
			notices = append(notices, n)
		}
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var evs []qboCloudEvent
		if err := json.Unmarshal(trimmed, &evs); err != nil {
			http.Error(w, "unreadable CloudEvents array", http.StatusBadRequest)
			return
		}
		for _, ev := range evs {
			parts := strings.Split(ev.Type, ".") // qbo.customer.updated.v1
			if len(parts) < 3 {
				continue
			}
			r := qboReaderOf(parts[1])
			if r == nil {
				continue
			}
			at, _ := time.Parse(time.RFC3339Nano, ev.Time)
			n := notice{reader: r, system: streams.SystemQBO, account: ev.IntuitAccountID, id: ev.IntuitEntityID, at: at}
			add(n)
			if parts[2] == "merged" {
				var d struct {
					DeletedID string `json:"deletedid"`
				}
				if json.Unmarshal(ev.Data, &d) == nil && d.DeletedID != "" {
					add(notice{reader: r, system: streams.SystemQBO, account: ev.IntuitAccountID, id: d.DeletedID, deleted: true, at: at})
				}
			}
		}
	} else {
		var doc qboLegacy
		if err := json.Unmarshal(trimmed, &doc); err != nil {
			http.Error(w, "unreadable eventNotifications", http.StatusBadRequest)
			return
		}
		for _, en := range doc.EventNotifications {
			for _, e := range en.DataChangeEvent.Entities {
				r := qboReaderOf(e.Name)
				if r == nil {
					continue
				}
				at, err := time.Parse("2006-01-02T15:04:05-0700", e.LastUpdated)
				if err != nil {
					at, _ = time.Parse(time.RFC3339Nano, e.LastUpdated)
				}
				add(notice{reader: r, system: streams.SystemQBO, account: en.RealmID, id: e.ID, at: at})
				if e.DeletedID != "" {
					add(notice{reader: r, system: streams.SystemQBO, account: en.RealmID, id: e.DeletedID, deleted: true, at: at})
				}
			}
		}
	}
	s.accept(w, notices)
}

// verifyQBO checks intuit-signature: base64(HMAC-SHA256(verifier, body)).
func (s *Service) verifyQBO(r *http.Request, body []byte) string {
	verifier := s.cfg.QBOWebhookVerifier.Reveal()
	if verifier == "" {
		return "QBO_WEBHOOK_VERIFIER is not set"
	}
	sig := r.Header.Get("intuit-signature")
	if sig == "" {
		return "no signature"
	}
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return "signature not base64"
	}
	m := hmac.New(sha256.New, []byte(verifier))
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), want) {
		return "signature mismatch"
	}
	return ""
}

// --- shared --------------------------------------------------------------------

// rejectWebhook answers 401 and records the refusal (no body content, no
// personal data).
func (s *Service) rejectWebhook(w http.ResponseWriter, system streams.System, reason string) {
	s.log.Warn("webhook refused", slog.String("system", string(system)), slog.String("reason", reason),
		slog.String("error_code", string(CodeSignatureInvalid)))
	pipeline.CountFailure(Stage, CodeSignatureInvalid)
	ev := activity.Event{EventID: activity.NewID(), Time: s.now().UTC(), SourceSystem: string(system), Stage: Stage,
		Action: "webhook", Outcome: activity.OutcomeFailed, ErrorCode: string(CodeSignatureInvalid),
		ErrorMessage: string(system) + " webhook refused: " + reason}
	if _, err := s.activity.PublishAsync(ev); err != nil {
		s.log.Warn("activity event not published", logging.KeyError, err)
	}
	http.Error(w, "invalid signature", http.StatusUnauthorized)
}

// accept queues the notices and answers at once; when the queue is full
// the delivery is answered 503 so the sender retries it.
//
// A notice for a record that already waits in the queue is dropped: the
// queued one's fetch reads the record as it is then, which includes this
// change. (An invoice associated with a contact makes HubSpot notify the
// contact too: a first sync of many invoices would fetch each contact once
// per invoice.)
//
// Once the service stops, deliveries are answered 503 (the sender retries
// them, and the poller reads the changes anyway): what was answered 200 is
// in the queue, which the workers empty before they return.
func (s *Service) accept(w http.ResponseWriter, notices []notice) {
	s.acceptMu.RLock()
	defer s.acceptMu.RUnlock()
	if s.stopping {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	for i, n := range notices {
		if !s.markQueued(n) {
			continue
		}
		select {
		case s.queue <- n:
		default:
			s.unmarkQueued(n)
			s.log.Warn("webhook queue full; asking the sender to retry", slog.Int("dropped", len(notices)-i))
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (n notice) queueKey() string {
	return string(n.system) + "/" + n.account + "/" + string(n.reader.object) + "/" + n.id + "/" + strconv.FormatBool(n.deleted)
}

// markQueued records n as queued; false: an equal notice already waits.
func (s *Service) markQueued(n notice) bool {
	s.queuedMu.Lock()
	defer s.queuedMu.Unlock()
	k := n.queueKey()
	if s.queued[k] {
		return false
	}
	s.queued[k] = true
	return true
}

// unmarkQueued lets later notices of n's record queue again; a worker calls
// it before fetching, so a change during the fetch is not lost.
func (s *Service) unmarkQueued(n notice) {
	s.queuedMu.Lock()
	delete(s.queued, n.queueKey())
	s.queuedMu.Unlock()
}

// stopAccepting makes accept answer 503 from now on; after it returns no
// notice joins the queue.
func (s *Service) stopAccepting() {
	s.acceptMu.Lock()
	s.stopping = true
	s.acceptMu.Unlock()
}

// gatherNotices takes the queued notices in batches, groups each batch
// into what one fetch can serve and hands the groups to the webhook
// workers, until ctx ends; then it stops the intake, hands on what is
// still queued under work, which outlives ctx by the drain time, and
// closes groups. One gatherer, not each worker for itself: idle workers
// would each take one notice of a delivery and fetch it alone (a first
// sync's own writes come back a few per delivery, and every fetch is a
// call of the account's budget).
func (s *Service) gatherNotices(ctx, work context.Context, groups chan<- []notice) {
	defer close(groups)
	if s.waitReady(ctx) != nil {
		s.stopAccepting()
		return
	}
	hand := func(batch []notice) bool {
		for _, m := range batch {
			s.unmarkQueued(m)
		}
		for _, g := range groupNotices(batch) {
			select {
			case groups <- g:
			case <-work.Done():
				return false
			}
		}
		return true
	}
	for {
		select {
		case <-ctx.Done():
			s.stopAccepting()
			for work.Err() == nil {
				select {
				case n := <-s.queue:
					if !hand(s.gather(n, 0)) {
						return
					}
				default:
					return
				}
			}
			return
		case n := <-s.queue:
			if !hand(s.gather(n, webhookLinger)) {
				return
			}
		}
	}
}

// gather returns n and what else is queued, or arrives within linger, up
// to one batch read.
func (s *Service) gather(n notice, linger time.Duration) []notice {
	batch := []notice{n}
	timer := time.NewTimer(linger)
	defer timer.Stop()
	for len(batch) < hubspot.MaxBatchInputs {
		select {
		case m := <-s.queue:
			batch = append(batch, m)
			continue
		default:
		}
		if linger == 0 {
			break
		}
		select {
		case m := <-s.queue:
			batch = append(batch, m)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// webhookLinger is how long notices are gathered before they are fetched.
const webhookLinger = 50 * time.Millisecond

// groupNotices splits notices into groups one fetch can serve: same side,
// account, object and kind (deleted or not), in arrival order.
func groupNotices(batch []notice) [][]notice {
	var order []string
	groups := map[string][]notice{}
	for _, n := range batch {
		k := string(n.system) + "/" + n.account + "/" + string(n.reader.object) + "/" + strconv.FormatBool(n.deleted)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], n)
	}
	out := make([][]notice, 0, len(order))
	for _, k := range order {
		out = append(out, groups[k])
	}
	return out
}

// handleGroup ingests a group of notices for every connection that reads
// their object from their account.
func (s *Service) handleGroup(ctx context.Context, group []notice) {
	first := group[0]
	conns := s.connectionsFor(first.reader.object, first.system, first.account)
	if len(conns) == 0 {
		s.log.Debug("webhook notice for an account no connection ingests this object from", slog.String("system", string(first.system)),
			logging.KeyObject, string(first.reader.object))
	}
	for _, c := range conns {
		err := s.handleNotices(ctx, c.ID, group)
		if err != nil && drain.Stopping(ctx) {
			// Not a failure of the records: the process stops before
			// their fetch; the poller reads them on the next start.
			s.log.Info("webhook notices left to the poller: stopping", logging.KeyConnection, c.ID,
				slog.String("system", string(first.system)), slog.Int("notices", len(group)))
			continue
		}
		if err != nil && ctx.Err() == nil {
			code := syncerr.CodeOf(err)
			s.log.Warn("webhook notices not ingested; the poller will catch up", logging.KeyConnection, c.ID,
				slog.String("system", string(first.system)), slog.Int("notices", len(group)), slog.String("error_code", string(code)), logging.KeyError, err)
			for _, n := range group {
				s.recordFailure(c.ID, n.reader.object, n.system, n.id, "fetch", code, "fetch after webhook failed: "+string(code))
			}
		}
	}
}

// handleNotices fetches the full records of a group of notices (one batch
// read on HubSpot) and publishes them.
func (s *Service) handleNotices(ctx context.Context, connID string, group []notice) error {
	// Generous: under a burst the fetch waits its turn in the account's
	// budget; a timeout only hands the change to the poller.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	c, ok := s.connection(connID)
	if !ok {
		return nil
	}
	r, system := group[0].reader, group[0].system
	at := func(n notice) time.Time {
		if n.at.IsZero() {
			return s.now()
		}
		return n.at
	}
	if group[0].deleted {
		recs := make([]ingested, 0, len(group))
		for _, n := range group {
			recs = append(recs, deletedRecord(r.object, system, n.id, at(n)))
		}
		return s.publish(ctx, c.ID, system, recs)
	}
	if system == streams.SystemHubSpot {
		cl, err := s.clients.HubSpot(c)
		if err != nil {
			return err
		}
		ids := make([]string, len(group))
		when := map[string]time.Time{}
		for i, n := range group {
			ids[i], when[n.id] = n.id, at(n)
		}
		found, missing, err := r.fetch(ctx, cl, c, ids)
		if err != nil {
			return err
		}
		for _, id := range missing {
			found = append(found, deletedRecord(r.object, system, id, when[id]))
		}
		return s.publish(ctx, c.ID, system, found)
	}
	group = s.dropSyncedQBONotices(ctx, connID, group)
	if len(group) == 0 {
		return nil
	}
	cl, err := s.clients.QBO(c)
	if err != nil {
		return err
	}
	ids := make([]string, len(group))
	when := map[string]time.Time{}
	for i, n := range group {
		ids[i], when[n.id] = n.id, at(n)
	}
	recs, missing, err := r.qboGetMany(ctx, cl, ids)
	if err != nil {
		return err
	}
	for _, id := range missing {
		recs = append(recs, deletedRecord(r.object, system, id, when[id]))
	}
	return s.publish(ctx, c.ID, system, recs)
}

// dropSyncedQBONotices leaves out the notices of QBO changes made at or
// before the version the connection last synced of that record, and
// records each as skipped. QBO's notices do not name the app that made a
// change (HubSpot's do, see ownWrite), but they carry its time: a notice
// no newer than the link's version of the record tells of our own write
// coming back (the usual case: every record a first sync writes into QBO
// comes back as a notice), or of a change already read. A fetch would
// read the record as it is now and the resolver would drop it again, at
// a QBO call each: a first sync of invoices spent a tenth of its calls on
// such fetches.
//
// QBO stamps changes in whole seconds. A user's edit within the same
// second as our write is left out with it, and read by the next CDC poll
// (PollInterval), which reads every change whatever the webhooks did.
func (s *Service) dropSyncedQBONotices(ctx context.Context, connID string, group []notice) []notice {
	keep := group[:0:0]
	for _, n := range group {
		side, ok := s.syncedSide(ctx, connID, n)
		if !ok || n.at.IsZero() || n.at.Unix() > time.UnixMilli(side.Version).Unix() {
			keep = append(keep, n)
			continue
		}
		outcome, why := activity.OutcomeSkipped, "a change at or before the version last synced (read already): not fetched again"
		if side.EchoVersion >= side.Version {
			outcome, why = activity.OutcomeSkippedEcho, "a change ledgersync made (the notice is no newer than its write): not fetched again"
		}
		ev := activity.Event{EventID: activity.DerivedID(Stage, "synced-notice", connID, string(n.reader.object), n.id, n.at.UTC().Format(time.RFC3339)),
			Time: s.now().UTC(), Connection: connID, Object: string(n.reader.object), Stage: Stage, Action: "webhook", Outcome: outcome, ErrorMessage: why}
		ev.Record(n.system, n.id)
		if _, err := s.activity.PublishAsync(ev); err != nil {
			s.log.Warn("activity event not published", logging.KeyError, err)
		}
	}
	return keep
}

// syncedSide returns the QBO side of the link of n's record, when it has
// one with a version.
func (s *Service) syncedSide(ctx context.Context, connID string, n notice) (links.Side, bool) {
	if s.links == nil || n.system != streams.SystemQBO || n.deleted {
		return links.Side{}, false
	}
	l, ok, err := s.links.Of(ctx, connID, n.reader.object, streams.SystemQBO, n.id)
	if err != nil || !ok {
		return links.Side{}, false // unknown or unreadable: fetch it
	}
	side := l.Sides[streams.SystemQBO]
	return side, side.Version > 0
}

// hubspotReaderOf returns the reader of a HubSpot webhook subscription
// type ("contact.propertyChange", or "object.creation" with a type id).
func hubspotReaderOf(subscription, objectTypeID string) *reader {
	for _, r := range readers {
		if r.hsType == "" {
			continue // an object read from QBO only
		}
		if strings.HasPrefix(subscription, r.hsPrefix) || (strings.HasPrefix(subscription, "object.") && objectTypeID == r.hsTypeID) {
			return r
		}
	}
	return nil
}

// qboReaderOf returns the reader of a QBO entity name as webhooks spell it
// ("Customer" in the legacy format, "customer" in CloudEvents types).
func qboReaderOf(entity string) *reader {
	for _, r := range readers {
		if strings.EqualFold(entity, r.qboEntity) {
			return r
		}
	}
	return nil
}
