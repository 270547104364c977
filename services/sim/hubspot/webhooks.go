package hubspot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// webhookEvent is one event of a v3 webhook delivery (A5).
type webhookEvent struct {
	EventID          int64   `json:"eventId"`
	SubscriptionID   int64   `json:"subscriptionId"`
	PortalID         int64   `json:"portalId"`
	AppID            int64   `json:"appId"`
	OccurredAt       int64   `json:"occurredAt"`
	SubscriptionType string  `json:"subscriptionType"`
	AttemptNumber    int     `json:"attemptNumber"`
	ObjectID         int64   `json:"objectId,omitempty"`
	PropertyName     string  `json:"propertyName,omitempty"`
	PropertyValue    *string `json:"propertyValue,omitempty"`
	ChangeSource     string  `json:"changeSource"`
	SourceID         string  `json:"sourceId,omitempty"`
	ChangeFlag       string  `json:"changeFlag,omitempty"`
	ObjectTypeID     string  `json:"objectTypeId,omitempty"`

	// associationChange events
	AssociationType      string `json:"associationType,omitempty"`
	FromObjectID         int64  `json:"fromObjectId,omitempty"`
	ToObjectID           int64  `json:"toObjectId,omitempty"`
	AssociationRemoved   *bool  `json:"associationRemoved,omitempty"`
	IsPrimaryAssociation *bool  `json:"isPrimaryAssociation,omitempty"`
}

type delivery struct {
	events  []webhookEvent
	attempt int
	due     time.Time
}

// webhookSender batches events and delivers them with retries.
type webhookSender struct {
	s      *Server
	mu     sync.Mutex
	queue  []webhookEvent
	retry  []*delivery
	nextID int64
	drop   int // deliveries to drop (control API)
	wake   chan struct{}

	delivered, failed, dropped int
}

const maxQueuedEvents = 100000

func newWebhookSender(s *Server) *webhookSender {
	return &webhookSender{s: s, nextID: 3816279340, wake: make(chan struct{}, 1)}
}

// emit queues one creation/deletion/propertyChange event. Caller holds s.mu.
func (s *Server) emit(t *objectType, id int64, kind, prop string, value *string, src changeSource) {
	if !s.hooksOn() {
		return
	}
	ev := s.newEvent(t, kind, src)
	ev.ObjectID = id
	switch kind {
	case "creation":
		ev.ChangeFlag = "CREATED"
	case "deletion":
		ev.ChangeFlag = "DELETED"
	case "propertyChange":
		ev.PropertyName, ev.PropertyValue = prop, value
	}
	s.hooks.enqueue(ev)
}

// emitAssoc queues an associationChange event. Caller holds s.mu.
func (s *Server) emitAssoc(from, to objRef, kind assocType, removed bool, src changeSource) {
	if !s.hooksOn() {
		return
	}
	fromT, toT := objectTypeByAlias[from.t], objectTypeByAlias[to.t]
	ev := s.newEvent(fromT, "associationChange", src)
	ev.AssociationType = strings.ToUpper(fromT.singular + "_TO_" + toT.singular)
	ev.FromObjectID, ev.ToObjectID = from.id, to.id
	primary := kind.primary
	ev.AssociationRemoved, ev.IsPrimaryAssociation = &removed, &primary
	s.hooks.enqueue(ev)
}

func (s *Server) hooksOn() bool { return s.cfg.WebhookURL != "" && s.st.seedTime.IsZero() }

var subscriptionOffsets = map[string]int64{"creation": 1, "deletion": 2, "propertyChange": 3, "associationChange": 4}

func (s *Server) newEvent(t *objectType, kind string, src changeSource) webhookEvent {
	ev := webhookEvent{SubscriptionID: t.subBase + subscriptionOffsets[kind], PortalID: s.cfg.PortalID, AppID: s.cfg.AppID,
		OccurredAt: s.now().UnixMilli(), ChangeSource: src.source, SourceID: src.sourceID}
	if t.webhook != "" {
		ev.SubscriptionType = t.webhook + "." + kind
	} else {
		ev.SubscriptionType = "object." + kind
		ev.ObjectTypeID = t.typeID
	}
	return ev
}

func (h *webhookSender) enqueue(ev webhookEvent) {
	h.mu.Lock()
	ev.EventID = h.nextID
	h.nextID++
	if len(h.queue) >= maxQueuedEvents {
		h.queue = h.queue[1:]
		h.dropped++
	}
	h.queue = append(h.queue, ev)
	h.mu.Unlock()
}

// signV3 is base64(HMAC-SHA256(secret, method+uri+body+timestamp)).
func signV3(secret, method, uri string, body []byte, timestamp string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + uri))
	m.Write(body)
	m.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// signV1 is hex(SHA256(secret+body)).
func signV1(secret string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(secret))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// signingURI decodes the escapes HubSpot decodes before signing (A5).
var signingURI = strings.NewReplacer("%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";")

// run delivers queued events until ctx is cancelled.
func (h *webhookSender) run(ctx context.Context) {
	if h.s.cfg.WebhookURL == "" {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(h.s.cfg.WebhookFlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-h.wake:
		}
		h.flush(ctx, true)
	}
}

// flush sends every queued batch and due retry once.
func (h *webhookSender) flush(ctx context.Context, retries bool) {
	cfg := h.s.cfg
	now := time.Now()
	h.mu.Lock()
	var work []*delivery
	for len(h.queue) > 0 {
		n := min(len(h.queue), cfg.WebhookBatchSize)
		work = append(work, &delivery{events: slices.Clone(h.queue[:n])})
		h.queue = h.queue[n:]
	}
	if retries {
		keep := h.retry[:0]
		for _, d := range h.retry {
			if !d.due.After(now) {
				work = append(work, d)
			} else {
				keep = append(keep, d)
			}
		}
		h.retry = keep
	}
	h.mu.Unlock()

	for _, d := range work {
		if ctx.Err() != nil {
			h.mu.Lock()
			h.retry = append(h.retry, d)
			h.mu.Unlock()
			return
		}
		err := h.deliver(ctx, d)
		h.mu.Lock()
		switch {
		case err == nil:
			h.delivered++
		case d.attempt+1 >= cfg.WebhookMaxAttempts || (!cfg.WebhookRetry4xx.On() && isFinal4xx(err)):
			h.failed++
			h.s.log.WarnContext(ctx, "webhook batch dropped after retries", slog.Int("events", len(d.events)), slog.Int("attempts", d.attempt+1), slog.String("error", err.Error()))
		default:
			d.attempt++
			delay := min(cfg.WebhookRetryDelay<<(d.attempt-1), time.Hour)
			d.due = time.Now().Add(delay)
			h.retry = append(h.retry, d)
			h.s.log.InfoContext(ctx, "webhook delivery failed; will retry", slog.Int("events", len(d.events)), slog.Int("attempt", d.attempt), slog.Duration("retry_in", delay), slog.String("error", err.Error()))
		}
		h.mu.Unlock()
	}
}

// deliver POSTs one batch (twice in duplicates mode).
func (h *webhookSender) deliver(ctx context.Context, d *delivery) error {
	cfg := h.s.cfg
	h.mu.Lock()
	if h.drop > 0 {
		h.drop--
		h.dropped++
		h.mu.Unlock()
		return nil // silently lost, as if HubSpot never sent it
	}
	h.mu.Unlock()
	events := make([]webhookEvent, len(d.events))
	for i, ev := range d.events {
		ev.AttemptNumber = d.attempt
		events[i] = ev
	}
	if cfg.WebhookMode == WebhookModeOutOfOrder || cfg.WebhookMode == WebhookModeChaos {
		slices.Reverse(events)
	}
	body, err := json.Marshal(events)
	if err != nil {
		return err
	}
	sends := 1
	if cfg.WebhookMode == WebhookModeDuplicates || cfg.WebhookMode == WebhookModeChaos {
		sends = 2
	}
	for range sends {
		if err := h.post(ctx, body); err != nil {
			return err
		}
	}
	return nil
}

func (h *webhookSender) post(ctx context.Context, body []byte) error {
	cfg := h.s.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(h.s.now().UnixMilli(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "HubSpot Connect 2.0 (http://dev.hubspot.com/) - ledgersync simulator")
	req.Header.Set("X-HubSpot-Signature", signV1(cfg.ClientSecret, body))
	req.Header.Set("X-HubSpot-Signature-Version", "v1")
	req.Header.Set("X-HubSpot-Signature-v3", signV3(cfg.ClientSecret, http.MethodPost, signingURI.Replace(cfg.WebhookURL), body, ts))
	req.Header.Set("X-HubSpot-Request-Timestamp", ts)
	req.Header.Set("X-HubSpot-Timeout-Millis", strconv.FormatInt(cfg.WebhookTimeout.Milliseconds(), 10))
	resp, err := h.s.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode >= 400 {
		return &statusError{code: resp.StatusCode}
	}
	return nil
}

// statusError is a delivery answered with an HTTP error status.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("webhook target answered %d", e.code) }

func isFinal4xx(err error) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return false
	}
	switch se.code {
	case 400, 401, 403, 404, 405:
		return true
	}
	return false
}

// drain sends what is still queued once, without retries (shutdown).
func (h *webhookSender) drain(ctx context.Context) {
	if h.s.cfg.WebhookURL == "" {
		return
	}
	h.flush(ctx, false)
}

// stats reports delivery counters (control API).
func (h *webhookSender) stats() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return map[string]int{"queued": len(h.queue), "retrying": len(h.retry), "delivered": h.delivered, "failed": h.failed, "dropped": h.dropped}
}
