package quickbooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// webhookSender batches change events and delivers them one notification
// at a time, in order, retrying failures on the configured schedule.
type webhookSender struct {
	s      *Server
	mu     sync.Mutex
	queue  []realmEvent
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

type realmEvent struct {
	realm string
	ev    event
}

func newWebhookSender(s *Server) *webhookSender {
	ctx, cancel := context.WithCancel(context.Background())
	h := &webhookSender{s: s, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go h.loop()
	return h
}

func (h *webhookSender) enqueue(realmID string, evs []event) {
	h.mu.Lock()
	for _, e := range evs {
		h.queue = append(h.queue, realmEvent{realm: realmID, ev: e})
	}
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *webhookSender) stop() {
	h.once.Do(func() {
		h.cancel()
		<-h.done
	})
}

func (h *webhookSender) loop() {
	defer close(h.done)
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.wake:
		}
		// Collect changes for a moment so one notification carries several.
		if d := h.s.cfg.WebhookDelay; d > 0 {
			select {
			case <-h.ctx.Done():
				return
			case <-time.After(d):
			}
		}
		for {
			h.mu.Lock()
			batch := h.queue
			if len(batch) > 200 {
				batch = batch[:200]
			}
			h.queue = h.queue[len(batch):]
			h.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			h.deliver(batch)
			if h.ctx.Err() != nil {
				return
			}
		}
	}
}

// deliver sends one notification, retrying until success or the schedule
// runs out.
func (h *webhookSender) deliver(batch []realmEvent) {
	body := h.payload(batch)
	sig := Sign(h.s.cfg.WebhookVerifier, body)
	log := h.s.log.With("events", len(batch))
	for attempt := 0; ; attempt++ {
		ok := false
		if h.s.faults.takeDrop() {
			log.Info("qbo webhook dropped by injected fault")
			return
		}
		req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, h.s.cfg.WebhookURL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("intuit-signature", sig)
			req.Header.Set("User-Agent", "Intuit-Webhooks-Simulator/1.0")
			resp, err := h.s.client.Do(req)
			if err == nil {
				resp.Body.Close()
				ok = resp.StatusCode >= 200 && resp.StatusCode < 300
				if !ok {
					log.Info("qbo webhook delivery failed", "attempt", attempt+1, "status", resp.StatusCode)
				}
			} else if h.ctx.Err() == nil {
				log.Info("qbo webhook delivery failed", "attempt", attempt+1, "error", err.Error())
			}
		}
		if ok {
			log.Debug("qbo webhook delivered", "attempt", attempt+1)
			return
		}
		if attempt >= len(h.s.cfg.WebhookRetry) {
			log.Warn("qbo webhook dropped after retries", "attempts", attempt+1)
			return
		}
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(h.s.cfg.WebhookRetry[attempt]):
		}
	}
}

// Sign computes the intuit-signature header: base64(HMAC-SHA256(verifier, body)).
func Sign(verifier string, body []byte) string {
	m := hmac.New(sha256.New, []byte(verifier))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (h *webhookSender) payload(batch []realmEvent) []byte {
	if h.s.cfg.WebhookFormat == WebhookCloudEvents {
		verbs := map[string]string{"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided", "Merge": "merged", "Emailed": "emailed"}
		out := make([]map[string]any, 0, len(batch))
		for _, e := range batch {
			out = append(out, map[string]any{
				"specversion":     "1.0",
				"id":              uuid.NewString(),
				"source":          "intuit.qbo.simulator",
				"type":            "qbo." + strings.ToLower(e.ev.Entity) + "." + verbs[e.ev.Op] + ".v1",
				"datacontenttype": "application/json",
				"time":            e.ev.At.UTC().Format("2006-01-02T15:04:05.000Z"),
				"intuitentityid":  e.ev.ID,
				"intuitaccountid": e.realm,
				"data":            map[string]any{},
			})
		}
		b, _ := json.Marshal(out)
		return b
	}
	type entity struct {
		Name        string `json:"name"`
		ID          string `json:"id"`
		Operation   string `json:"operation"`
		LastUpdated string `json:"lastUpdated"`
	}
	type notification struct {
		RealmID         string `json:"realmId"`
		DataChangeEvent struct {
			Entities []entity `json:"entities"`
		} `json:"dataChangeEvent"`
	}
	var notes []*notification
	byRealm := map[string]*notification{}
	for _, e := range batch {
		n := byRealm[e.realm]
		if n == nil {
			n = &notification{RealmID: e.realm}
			byRealm[e.realm] = n
			notes = append(notes, n)
		}
		n.DataChangeEvent.Entities = append(n.DataChangeEvent.Entities, entity{
			Name: e.ev.Entity, ID: e.ev.ID, Operation: e.ev.Op,
			LastUpdated: e.ev.At.In(companyTZ).Format("2006-01-02T15:04:05-0700"),
		})
	}
	b, _ := json.Marshal(map[string]any{"eventNotifications": notes})
	return b
}
