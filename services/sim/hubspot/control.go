package hubspot

import (
	"net/http"
	"time"
)

// uiSource marks changes made through the control API as if a user made
// them in the HubSpot UI (webhooks: changeSource CRM_UI).
var uiSource = changeSource{source: "CRM_UI", sourceID: "userId:1000001"}

// controlRoutes registers the /_sim/ control API (no auth, no limits).
func (s *Server) controlRoutes(handle func(string, http.HandlerFunc)) {
	handle("POST /_sim/reset", s.handleSimReset)
	handle("GET /_sim/faults", s.handleSimFaultsList)
	handle("POST /_sim/faults", s.handleSimFaultAdd)
	handle("DELETE /_sim/faults", s.handleSimFaultsClear)
	handle("GET /_sim/limits", s.handleSimLimits)
	handle("PUT /_sim/limits", s.handleSimLimitsSet)
	handle("GET /_sim/webhooks", s.handleSimWebhookStats)
	handle("POST /_sim/webhooks/drop", s.handleSimWebhookDrop)
	handle("POST /_sim/webhooks/flush", s.handleSimWebhookFlush)
	handle("POST /_sim/oauth/expire", s.handleSimExpireTokens)
	handle("POST /_sim/ui/{objectType}", s.handleSimUICreate)
	handle("PATCH /_sim/ui/{objectType}/{id}", s.handleSimUIUpdate)
	handle("DELETE /_sim/ui/{objectType}/{id}", s.handleSimUIArchive)
	handle("POST /_sim/ui/invoices/{id}/payments", s.handleSimUICollectPayment)
}

// handleSimReset restores the initial (seeded) portal and clears faults
// and rate-limit counters.
func (s *Server) handleSimReset(w http.ResponseWriter, r *http.Request) {
	if err := s.reset(); err != nil {
		writeError(w, r, newError(http.StatusInternalServerError, catInternal, "reset failed: %v", err))
		return
	}
	s.faults.mu.Lock()
	s.faults.rules = nil
	s.faults.mu.Unlock()
	s.limits.mu.Lock()
	s.limits.hits, s.limits.search, s.limits.dayCount, s.limits.rejected = map[string][]time.Time{}, nil, 0, 0
	s.limits.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSimFaultsList(w http.ResponseWriter, r *http.Request) {
	s.faults.mu.Lock()
	out := []faultRule{}
	for _, f := range s.faults.rules {
		out = append(out, *f)
	}
	s.faults.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

// handleSimFaultAdd adds a rule: {"status":429|423|477|500|502|503|504 or 0
// (latency only), "count":N (0 = until cleared), "method", "path_prefix",
// "latency_ms"}.
func (s *Server) handleSimFaultAdd(w http.ResponseWriter, r *http.Request) {
	var f faultRule
	if aerr := decodeJSON(r, &f); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		writeError(w, r, validationErr("status must be 0 or an HTTP error status, got %d", f.Status))
		return
	}
	if f.Status == 0 && f.LatencyMS <= 0 {
		writeError(w, r, validationErr("a fault needs a status or a latency"))
		return
	}
	if f.LatencyMS < 0 || f.LatencyMS > 120000 || f.Count < 0 {
		writeError(w, r, validationErr("latency_ms must be 0..120000 and count >= 0"))
		return
	}
	s.faults.mu.Lock()
	s.faults.rules = append(s.faults.rules, &f)
	s.faults.mu.Unlock()
	writeJSON(w, http.StatusCreated, f)
}

func (s *Server) handleSimFaultsClear(w http.ResponseWriter, r *http.Request) {
	s.faults.mu.Lock()
	s.faults.rules = nil
	s.faults.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

type limitsJSON struct {
	Throttle                 *bool  `json:"throttle,omitempty"`
	BurstLimit               *int   `json:"burst_limit,omitempty"`
	BurstWindowMS            *int64 `json:"burst_window_ms,omitempty"`
	DailyLimit               *int   `json:"daily_limit,omitempty"`
	SearchPerSecond          *int   `json:"search_per_second,omitempty"`
	SearchIndexDelayMS       *int64 `json:"search_index_delay_ms,omitempty"`
	SearchMaxFilterGroups    *int   `json:"search_max_filter_groups,omitempty"`
	SearchMaxFiltersPerGroup *int   `json:"search_max_filters_per_group,omitempty"`
	SearchMaxFilters         *int   `json:"search_max_filters,omitempty"`
	Rejected                 *int   `json:"rejected,omitempty"` // read-only: 429s answered so far
}

func (s *Server) currentLimits() limitsJSON {
	l := s.limits
	l.mu.Lock()
	on, burst, win, daily, sps, rejected := l.on, l.burst, l.window.Milliseconds(), l.daily, l.searchPS, l.rejected
	l.mu.Unlock()
	s.mu.RLock()
	delay, g, pg, tf := s.st.indexDelay.Milliseconds(), s.st.maxGroups, s.st.maxPerGroup, s.st.maxFilters
	s.mu.RUnlock()
	return limitsJSON{Throttle: &on, BurstLimit: &burst, BurstWindowMS: &win, DailyLimit: &daily, SearchPerSecond: &sps,
		SearchIndexDelayMS: &delay, SearchMaxFilterGroups: &g, SearchMaxFiltersPerGroup: &pg, SearchMaxFilters: &tf, Rejected: &rejected}
}

func (s *Server) handleSimLimits(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.currentLimits())
}

// handleSimLimitsSet changes limits at run time (absent fields are kept).
func (s *Server) handleSimLimitsSet(w http.ResponseWriter, r *http.Request) {
	var in limitsJSON
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	for _, v := range []*int{in.BurstLimit, in.DailyLimit, in.SearchPerSecond, in.SearchMaxFilterGroups, in.SearchMaxFiltersPerGroup, in.SearchMaxFilters} {
		if v != nil && *v <= 0 {
			writeError(w, r, validationErr("limits must be positive"))
			return
		}
	}
	if (in.BurstWindowMS != nil && *in.BurstWindowMS <= 0) || (in.SearchIndexDelayMS != nil && *in.SearchIndexDelayMS < 0) {
		writeError(w, r, validationErr("burst_window_ms must be positive and search_index_delay_ms not negative"))
		return
	}
	l := s.limits
	l.mu.Lock()
	setBool(&l.on, in.Throttle)
	setInt(&l.burst, in.BurstLimit)
	setInt(&l.daily, in.DailyLimit)
	setInt(&l.searchPS, in.SearchPerSecond)
	if in.BurstWindowMS != nil {
		l.window = time.Duration(*in.BurstWindowMS) * time.Millisecond
	}
	l.mu.Unlock()
	s.mu.Lock()
	if in.SearchIndexDelayMS != nil {
		s.st.indexDelay = time.Duration(*in.SearchIndexDelayMS) * time.Millisecond
	}
	setInt(&s.st.maxGroups, in.SearchMaxFilterGroups)
	setInt(&s.st.maxPerGroup, in.SearchMaxFiltersPerGroup)
	setInt(&s.st.maxFilters, in.SearchMaxFilters)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.currentLimits())
}

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) handleSimWebhookStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.hooks.stats())
}

// handleSimWebhookDrop drops the next {"count":N} deliveries.
func (s *Server) handleSimWebhookDrop(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Count int `json:"count"`
	}
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if in.Count < 0 {
		writeError(w, r, validationErr("count must not be negative"))
		return
	}
	s.hooks.mu.Lock()
	s.hooks.drop = in.Count
	s.hooks.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// handleSimWebhookFlush asks the sender to deliver now.
func (s *Server) handleSimWebhookFlush(w http.ResponseWriter, r *http.Request) {
	select {
	case s.hooks.wake <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusAccepted)
}

// handleSimExpireTokens expires every OAuth access token now.
func (s *Server) handleSimExpireTokens(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	s.auth.mu.Lock()
	for k, v := range s.auth.access {
		v.expires = now
		s.auth.access[k] = v
	}
	s.auth.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// handleSimUICreate creates a record as a HubSpot user would.
func (s *Server) handleSimUICreate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in createInput
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, aerr := s.createRecord(t, in.Properties, in.Associations, uiSource)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	writeJSON(w, http.StatusCreated, s.view(rec, viewOpts{extra: sortedKeys(in.Properties)}))
}

// handleSimUIUpdate edits a record as a HubSpot user would.
func (s *Server) handleSimUIUpdate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	var in updateInput
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, aerr := s.st.resolveID(t, r.PathValue("id"), "", false)
	if aerr == nil {
		aerr = s.updateRecord(rec, in.Properties, uiSource)
	}
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	writeJSON(w, http.StatusOK, s.view(rec, viewOpts{extra: sortedKeys(in.Properties)}))
}

// handleSimUIArchive deletes a record as a HubSpot user would.
func (s *Server) handleSimUIArchive(w http.ResponseWriter, r *http.Request) {
	t, ok := s.objectType(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, aerr := s.st.resolveID(t, r.PathValue("id"), "", false)
	if aerr == nil {
		aerr = s.archiveRecord(rec, uiSource)
	}
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// collectInput is a payment a buyer makes on an open invoice through
// HubSpot's payment processing, with the fees the processor keeps.
type collectInput struct {
	Amount        float64 `json:"amount"`
	ProcessingFee float64 `json:"processing_fee"`
	PlatformFee   float64 `json:"platform_fee"`
	Method        string  `json:"method"` // card (default), ach
	Date          string  `json:"date"`   // RFC 3339; default now
}

// handleSimUICollectPayment records a payment collected on an invoice, as
// HubSpot payments would: a commerce payment associated with the invoice,
// whose amount paid and balance follow, and which turns paid when nothing
// is left to pay. The public API cannot do this (A2).
func (s *Server) handleSimUICollectPayment(w http.ResponseWriter, r *http.Request) {
	var in collectInput
	if aerr := decodeJSON(r, &in); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if in.Method == "" {
		in.Method = "card"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, aerr := s.st.resolveID(objectTypeByAlias["invoices"], r.PathValue("id"), "", false)
	switch {
	case aerr != nil:
	case inv.props["hs_invoice_status"] != "open":
		aerr = validationErr("payments are collected on open invoices; invoice %d is %s", inv.id, inv.props["hs_invoice_status"])
	case in.Amount <= 0 || in.Amount > numProp(inv.props, "hs_balance_due")+1e-9:
		aerr = validationErr("amount must be more than 0 and at most the balance due (%s), got %v", inv.props["hs_balance_due"], in.Amount)
	case in.ProcessingFee < 0 || in.PlatformFee < 0 || in.ProcessingFee+in.PlatformFee > in.Amount:
		aerr = validationErr("fees must be at least 0 and at most the amount")
	}
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	date := in.Date
	if date == "" {
		date = iso(s.wnow())
	}
	props := map[string]any{"hs_initial_amount": fmtNum(in.Amount), "hs_processing_fee": fmtNum(in.ProcessingFee),
		"hs_platform_fee": fmtNum(in.PlatformFee), "hs_payment_method_type": in.Method, "hs_latest_status": "succeeded",
		"hs_initiated_date": date, "hs_currency_code": inv.props["hs_currency"]}
	pay, aerr := s.createRecord(objectTypeByAlias["commerce_payments"], props, nil, uiSource)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	kind, _ := assocTypeFor("invoices", "commerce_payments", 541)
	s.addAssoc(objRef{"invoices", inv.id}, objRef{"commerce_payments", pay.id}, kind, uiSource)
	s.recompute(inv, uiSource)
	if numProp(inv.props, "hs_balance_due") <= 0 {
		// Processing moves the invoice to paid; the API may not (A2).
		now := s.wnow()
		inv.setProp("hs_invoice_status", "paid", now, uiSource, true)
		inv.setProp(inv.t.lastMod, iso(now), now, uiSource, true)
		inv.updatedAt = now
		v := "paid"
		s.emit(inv.t, inv.id, "propertyChange", "hs_invoice_status", &v, uiSource)
	}
	s.reindex(inv)
	writeJSON(w, http.StatusCreated, s.view(pay, viewOpts{extra: sortedKeys(props)}))
}
