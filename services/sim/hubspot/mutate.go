package hubspot

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
)

// assocInput is an association in a v3 create body.
type assocInput struct {
	To struct {
		ID json.RawMessage `json:"id"`
	} `json:"to"`
	Types []assocSpec `json:"types"`
}

type assocSpec struct {
	AssociationCategory string `json:"associationCategory"`
	AssociationTypeID   int    `json:"associationTypeId"`
}

type pendingAssoc struct {
	to   objRef
	kind assocType
}

// rawID accepts "123" or 123.
func rawID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return strings.TrimSpace(string(raw))
}

// resolveAssocInputs validates v3 create associations.
func (st *state) resolveAssocInputs(t *objectType, in []assocInput) ([]pendingAssoc, *apiError) {
	var out []pendingAssoc
	for _, a := range in {
		if len(a.Types) == 0 {
			return nil, validationErr("association types must not be empty")
		}
		for _, spec := range a.Types {
			if spec.AssociationCategory != "HUBSPOT_DEFINED" {
				return nil, validationErr("association type %d of category %s is not defined for %s", spec.AssociationTypeID, spec.AssociationCategory, t.name)
			}
			kind, ok := assocTypeByID(spec.AssociationTypeID)
			if !ok || kind.from != t.name {
				return nil, validationErr("%d is not a valid association type id from %s", spec.AssociationTypeID, t.singular)
			}
			toT, _ := lookupObjectType(kind.to)
			id := rawID(a.To.ID)
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || st.get(toT, n, false) == nil {
				return nil, validationErr("Could not find %s with id %s to associate", toT.singular, id)
			}
			out = append(out, pendingAssoc{to: objRef{toT.name, n}, kind: kind})
		}
	}
	return out, nil
}

// createRecord validates and stores a new record. Caller holds s.mu.
func (s *Server) createRecord(t *objectType, in map[string]any, assocIn []assocInput, src changeSource) (*record, *apiError) {
	st := s.st
	vals, aerr := st.normalizeProps(t, in)
	if aerr != nil {
		return nil, aerr
	}
	assocs, aerr := st.resolveAssocInputs(t, assocIn)
	if aerr != nil {
		return nil, aerr
	}
	switch t.name {
	case "line_items":
		if aerr := st.fillFromProduct(vals, true); aerr != nil {
			return nil, aerr
		}
	case "invoices":
		if vals["hs_currency"] == "" {
			return nil, propertyErrors([]propertyProblem{{Message: "hs_currency is required to create an invoice", Error: "REQUIRED_PROPERTY", Name: "hs_currency"}})
		}
		status := vals["hs_invoice_status"]
		if status == "" {
			vals["hs_invoice_status"] = "draft"
		} else if status != "draft" {
			contacts, lines := 0, 0
			for _, a := range assocs {
				switch a.to.t {
				case "contacts":
					contacts++
				case "line_items":
					lines++
				}
			}
			if aerr := invoiceTransition("draft", status, contacts, lines); aerr != nil {
				return nil, aerr
			}
		}
	case "notes":
		if vals["hs_timestamp"] == "" {
			return nil, propertyErrors([]propertyProblem{{Message: "hs_timestamp is required", Error: "REQUIRED_PROPERTY", Name: "hs_timestamp"}})
		}
	}
	if aerr := st.checkUnique(t, 0, vals); aerr != nil {
		return nil, aerr
	}

	now := s.wnow()
	os := st.objects[t.name]
	r := &record{id: os.nextID, t: t, props: map[string]string{}, createdAt: now, updatedAt: now}
	os.nextID++
	os.records[r.id] = r
	os.ids = append(os.ids, r.id)
	r.setProp("hs_object_id", r.idString(), now, src, true)
	if vals["createdate"] == "" {
		vals["createdate"] = iso(now)
	}
	names := sortedKeys(vals)
	for _, k := range names {
		r.setProp(k, vals[k], now, src, false)
	}
	if t.name == "invoices" {
		r.setProp("hs_number", fmt.Sprintf("INV-%d", st.nextInvoice), now, src, true)
		st.nextInvoice++
		r.setProp("hs_invoice_link", fmt.Sprintf("https://app.hubspot.com/invoices/%d/%d", s.cfg.PortalID, r.id), now, src, true)
	}
	r.setProp(t.lastMod, iso(now), now, src, true)
	s.recompute(r, src)
	for _, a := range assocs {
		s.addAssoc(objRef{t.name, r.id}, a.to, a.kind, src)
	}
	s.reindex(r)
	s.emit(r.t, r.id, "creation", "", nil, src)
	return r, nil
}

// updateRecord applies a PATCH. Caller holds s.mu.
func (s *Server) updateRecord(r *record, in map[string]any, src changeSource) *apiError {
	st := s.st
	t := r.t
	vals, aerr := st.normalizeProps(t, in)
	if aerr != nil {
		return aerr
	}
	switch t.name {
	case "line_items":
		if aerr := st.fillFromProduct(vals, false); aerr != nil {
			return aerr
		}
	case "invoices":
		if status, ok := vals["hs_invoice_status"]; ok && status != r.props["hs_invoice_status"] {
			contacts := len(st.assocTargets(objRef{t.name, r.id}, "contacts"))
			lines := len(st.assocTargets(objRef{t.name, r.id}, "line_items"))
			if aerr := invoiceTransition(r.props["hs_invoice_status"], status, contacts, lines); aerr != nil {
				return aerr
			}
		}
	case "notes":
		if v, ok := vals["hs_timestamp"]; ok && v == "" {
			return propertyErrors([]propertyProblem{{Message: "hs_timestamp is required", Error: "REQUIRED_PROPERTY", Name: "hs_timestamp"}})
		}
	}
	if aerr := st.checkUnique(t, r.id, vals); aerr != nil {
		return aerr
	}
	now := s.wnow()
	var changed []string
	for _, k := range sortedKeys(vals) {
		if r.setProp(k, vals[k], now, src, false) {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	s.touch(r, src)
	s.recompute(r, src)
	if t.name == "line_items" {
		for _, inv := range st.assocTargets(objRef{t.name, r.id}, "invoices") {
			if ir := st.objects["invoices"].records[inv]; ir != nil {
				if s.recompute(ir, src) {
					s.reindex(ir)
				}
			}
		}
	}
	s.reindex(r)
	for _, k := range changed {
		v := r.props[k]
		s.emit(t, r.id, "propertyChange", k, &v, src)
	}
	return nil
}

// archiveRecord archives r. Caller holds s.mu.
func (s *Server) archiveRecord(r *record, src changeSource) *apiError {
	if r.t.name == "invoices" && r.props["hs_invoice_status"] != "draft" {
		return validationErr("Only draft invoices can be deleted; invoice %d is %s", r.id, r.props["hs_invoice_status"])
	}
	now := s.wnow()
	self := objRef{r.t.name, r.id}
	var invoices []int64
	if r.t.name == "line_items" {
		invoices = s.st.assocTargets(self, "invoices")
	}
	for other := range s.st.assoc[self] {
		s.removeAssoc(self, other, 0, src)
	}
	r.archived = true
	r.archivedAt = now
	r.updatedAt = now
	s.reindex(r)
	for _, id := range invoices {
		if ir := s.st.objects["invoices"].records[id]; ir != nil {
			s.recompute(ir, src)
			s.reindex(ir)
		}
	}
	s.emit(r.t, r.id, "deletion", "", nil, src)
	return nil
}

// invoiceTransition checks the invoice status flow (A2).
func invoiceTransition(from, to string, contacts, lines int) *apiError {
	bad := func(msg string) *apiError {
		return propertyErrors([]propertyProblem{{Message: msg, Error: "INVALID_OPTION", Name: "hs_invoice_status"}})
	}
	switch {
	case to == "":
		return bad("hs_invoice_status cannot be cleared")
	case from == to:
		return nil
	case to == "paid":
		return bad("Invoices cannot be marked as paid through the API; payments can only be recorded by HubSpot payment processing")
	case from == "voided" || from == "paid":
		return bad(fmt.Sprintf("An invoice in status %s cannot be moved to %s", from, to))
	case to == "open":
		if contacts != 1 {
			return bad(fmt.Sprintf("An invoice needs exactly one associated contact to be opened; it has %d", contacts))
		}
		if lines < 1 {
			return bad("An invoice needs at least one associated line item to be opened")
		}
	case to == "voided" && from != "open":
		return bad("Only open invoices can be voided")
	}
	return nil
}

// fillFromProduct checks hs_product_id and copies product fields onto a
// line item (on create, unless given).
func (st *state) fillFromProduct(vals map[string]string, create bool) *apiError {
	pid, ok := vals["hs_product_id"]
	if !ok || pid == "" {
		return nil
	}
	n, err := strconv.ParseInt(pid, 10, 64)
	var p *record
	if err == nil {
		p = st.get(objectTypeByAlias["products"], n, false)
	}
	if p == nil {
		return propertyErrors([]propertyProblem{{Message: fmt.Sprintf("Product with id %s does not exist", pid), Error: "INVALID_PRODUCT_ID", Name: "hs_product_id"}})
	}
	if !create {
		return nil
	}
	for _, k := range []string{"name", "price", "hs_sku", "description", "recurringbillingfrequency", "hs_recurring_billing_period"} {
		if _, given := vals[k]; !given && p.props[k] != "" {
			vals[k] = p.props[k]
		}
	}
	return nil
}

// touch bumps the last-modified property.
func (s *Server) touch(r *record, src changeSource) {
	now := s.wnow()
	r.updatedAt = now
	r.setProp(r.t.lastMod, iso(now), now, src, true)
}

// recompute refreshes the calculated properties of r and reports whether
// any changed.
func (s *Server) recompute(r *record, src changeSource) bool {
	now := s.wnow()
	changed := false
	set := func(k, v string) {
		if r.setProp(k, v, now, src, true) {
			changed = true
			r.updatedAt = now
			r.setProp(r.t.lastMod, iso(now), now, src, true)
		}
	}
	switch r.t.name {
	case "line_items":
		qty, price := numProp(r.props, "quantity"), numProp(r.props, "price")
		if r.props["quantity"] == "" {
			qty = 1
		}
		disc := numProp(r.props, "discount") * qty
		if pct := numProp(r.props, "hs_discount_percentage"); pct != 0 {
			disc += qty * price * pct / 100
		}
		set("hs_total_discount", fmtNum(disc))
		set("amount", fmtNum(qty*price-disc))
	case "invoices":
		var sum float64
		for _, id := range s.st.assocTargets(objRef{"invoices", r.id}, "line_items") {
			if li := s.st.objects["line_items"].records[id]; li != nil && !li.archived {
				sum += numProp(li.props, "amount")
			}
		}
		// Paid is what HubSpot's payment processing collected on the
		// invoice; the API cannot record payments (A2).
		var paid float64
		for _, id := range s.st.assocTargets(objRef{"invoices", r.id}, "commerce_payments") {
			if p := s.st.objects["commerce_payments"].records[id]; p != nil && !p.archived && p.props["hs_latest_status"] == "succeeded" {
				paid += numProp(p.props, "hs_initial_amount")
			}
		}
		set("hs_subtotal", fmtNum(sum))
		set("hs_amount_billed", fmtNum(sum))
		set("hs_amount_paid", fmtNum(paid))
		set("hs_balance_due", fmtNum(sum-paid))
	case "commerce_payments":
		set("hs_net_amount", fmtNum(numProp(r.props, "hs_initial_amount")-numProp(r.props, "hs_processing_fee")-numProp(r.props, "hs_platform_fee")))
	case "contacts":
		primary := ""
		for other, kinds := range s.st.assoc[objRef{"contacts", r.id}] {
			if other.t == "companies" && kinds[1] {
				primary = strconv.FormatInt(other.id, 10)
			}
		}
		set("associatedcompanyid", primary)
	}
	return changed
}

// reindex records what search will see of r after the indexing delay.
func (s *Server) reindex(r *record) {
	s.st.objects[r.t.name].track(r)
	now := s.wnow()
	snap := snapshot{visibleAt: now.Add(s.st.indexDelay), props: maps.Clone(r.props), archived: r.archived, updatedAt: r.updatedAt}
	if s.st.indexDelay <= 0 {
		r.index = append(r.index[:0], snap)
		return
	}
	keep := 0
	for i := range r.index {
		if !r.index[i].visibleAt.After(now) {
			keep = i
		}
	}
	r.index = append(r.index[keep:], snap)
}

// assocTargets lists the ids of type to associated with from, ascending.
func (st *state) assocTargets(from objRef, to string) []int64 {
	var out []int64
	for other := range st.assoc[from] {
		if other.t == to {
			out = append(out, other.id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// link sets or clears one directional type id; it reports a change.
func (st *state) link(from, to objRef, id int, on bool) bool {
	m := st.assoc[from]
	if m == nil {
		if !on {
			return false
		}
		m = map[objRef]map[int]bool{}
		st.assoc[from] = m
	}
	kinds := m[to]
	if kinds == nil {
		if !on {
			return false
		}
		kinds = map[int]bool{}
		m[to] = kinds
	}
	if on {
		if kinds[id] {
			return false
		}
		kinds[id] = true
		return true
	}
	if !kinds[id] {
		return false
	}
	delete(kinds, id)
	if len(kinds) == 0 {
		delete(m, to)
	}
	return true
}

// setLink sets or clears kind and its inverse, with associationChange
// webhook events for each direction that changed.
func (s *Server) setLink(from, to objRef, kind assocType, on bool, src changeSource) {
	if s.st.link(from, to, kind.id, on) {
		s.emitAssoc(from, to, kind, !on, src)
	}
	if inv, ok := assocTypeFor(to.t, from.t, kind.inverse); ok && s.st.link(to, from, kind.inverse, on) {
		s.emitAssoc(to, from, inv, !on, src)
	}
}

// addAssoc adds kind (and its inverse). A primary label also adds the
// unlabeled type and replaces an earlier primary of the same source.
func (s *Server) addAssoc(from, to objRef, kind assocType, src changeSource) {
	st := s.st
	if kind.primary {
		for other, kinds := range st.assoc[from] {
			if other.t == to.t && other != to && kinds[kind.id] {
				s.setLink(from, other, kind, false, src)
			}
		}
		if unl, ok := defaultAssocType(from.t, to.t); ok {
			s.setLink(from, to, unl, true, src)
		}
	}
	s.setLink(from, to, kind, true, src)
	s.afterAssocChange(from, to, src)
}

// removeAssoc removes one type id (and inverse), or all when id is 0.
func (s *Server) removeAssoc(from, to objRef, id int, src changeSource) {
	for _, kind := range assocTypesForPair(from.t, to.t) {
		if id == 0 || kind.id == id {
			s.setLink(from, to, kind, false, src)
		}
	}
	s.afterAssocChange(from, to, src)
}

func (s *Server) afterAssocChange(a, b objRef, src changeSource) {
	for _, ref := range []objRef{a, b} {
		if ref.t != "invoices" && ref.t != "contacts" {
			continue
		}
		if r := s.st.objects[ref.t].records[ref.id]; r != nil && !r.archived {
			if s.recompute(r, src) {
				s.reindex(r)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
