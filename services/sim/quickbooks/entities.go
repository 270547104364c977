package quickbooks

import (
	"strconv"
	"strings"
	"time"
)

// opCtx carries one write's context; events collect webhook notifications
// that are sent once the write is committed.
type opCtx struct {
	now         time.Time
	allowDupDoc bool
	deactDelete bool // report deactivation as Delete in webhooks
	events      []event
}

type event struct {
	Entity string
	ID     string
	Op     string // Create, Update, Delete, Void
	At     time.Time
}

func (oc *opCtx) emit(entity, id, op string) {
	oc.events = append(oc.events, event{Entity: entity, ID: id, Op: op, At: oc.now})
}

var usd = map[string]any{"value": "USD", "name": "United States Dollar"}

// create runs a create. The caller holds r.mu.
func (r *realm) create(entity string, in map[string]any, oc *opCtx) (map[string]any, *fault) {
	switch entity {
	case entTaxCode, entCompanyInfo, entPreferences:
		return nil, faultUnsupportedOp("Create")
	}
	if f := checkFields(entity, in); f != nil {
		return nil, f
	}
	obj := map[string]any{}
	for k, v := range in {
		if writableFields[entity][k] {
			obj[k] = cloneValue(v)
		}
	}
	id := r.peekID(entity)
	if f := r.normalize(entity, id, obj, nil, oc); f != nil {
		return nil, f
	}
	r.nextID(entity)
	obj["Id"] = id
	obj["SyncToken"] = "0"
	obj["domain"] = "QBO"
	obj["sparse"] = false
	ts := qboTime(oc.now)
	obj["MetaData"] = map[string]any{"CreateTime": ts, "LastUpdatedTime": ts}
	r.put(entity, id, obj, oc.now)
	oc.emit(entity, id, "Create")
	r.afterWrite(entity, id, nil, oc)
	return r.data[entity].recs[id].obj, nil
}

func (r *realm) peekID(entity string) string {
	return strconv.Itoa(r.seq[seqGroup(entity)] + 1)
}

// update runs a full or sparse update. The caller holds r.mu.
func (r *realm) update(entity string, in map[string]any, oc *opCtx) (map[string]any, *fault) {
	if entity == entTaxCode {
		return nil, faultUnsupportedOp("Update")
	}
	if f := checkFields(entity, in); f != nil {
		return nil, f
	}
	id := strings.TrimSpace(str(in["Id"]))
	if id == "" {
		return nil, faultRequired("Id")
	}
	if entity == entCompanyInfo || entity == entPreferences {
		id = "1"
		if entity == entCompanyInfo && str(in["Id"]) != "1" {
			return nil, faultNotFound()
		}
	}
	rec, ok := r.get(entity, id)
	if !ok {
		return nil, faultNotFound()
	}
	if _, has := in["SyncToken"]; !has {
		return nil, faultRequired("SyncToken")
	}
	if strings.TrimSpace(str(in["SyncToken"])) != rec.obj["SyncToken"] {
		return nil, faultStale()
	}
	if r.voided[id] && isTxn(entity) {
		return nil, faultBusiness("This transaction has been voided and can no longer be changed.", "")
	}
	sparse := boolOr(in["sparse"], false)
	var obj map[string]any
	if sparse || entity == entPreferences || entity == entCompanyInfo {
		obj = cloneMap(rec.obj)
		for k, v := range in {
			if writableFields[entity][k] {
				if entity == entPreferences {
					obj[k] = deepMerge(mapOf(obj[k]), v)
				} else {
					obj[k] = cloneValue(v)
				}
			}
		}
	} else {
		obj = map[string]any{}
		for k, v := range in {
			if writableFields[entity][k] {
				obj[k] = cloneValue(v)
			}
		}
		// Full update clears every writable field not sent; the read-only
		// system fields survive.
		for k, v := range rec.obj {
			if !writableFields[entity][k] {
				obj[k] = cloneValue(v)
			}
		}
	}
	if f := r.normalize(entity, id, obj, rec, oc); f != nil {
		return nil, f
	}
	r.stamp(obj, rec, oc)
	r.put(entity, id, obj, oc.now)
	op := "Update"
	if oc.deactDelete && (entity == entCustomer || entity == entItem) && boolOr(rec.obj["Active"], true) && !boolOr(obj["Active"], true) {
		op = "Delete"
	}
	oc.emit(entity, id, op)
	r.afterWrite(entity, id, rec, oc)
	return r.data[entity].recs[id].obj, nil
}

// stamp bumps SyncToken and LastUpdatedTime of obj relative to old.
func (r *realm) stamp(obj map[string]any, old *record, oc *opCtx) {
	n, _ := strconv.Atoi(str(old.obj["SyncToken"]))
	obj["Id"] = old.obj["Id"]
	obj["SyncToken"] = strconv.Itoa(n + 1)
	obj["domain"] = "QBO"
	obj["sparse"] = false
	md := cloneMap(mapOf(old.obj["MetaData"]))
	if md == nil {
		md = map[string]any{}
	}
	md["LastUpdatedTime"] = qboTime(oc.now)
	obj["MetaData"] = md
}

func deepMerge(dst map[string]any, src any) any {
	sm, ok := src.(map[string]any)
	if !ok || dst == nil {
		return cloneValue(src)
	}
	out := cloneMap(dst)
	for k, v := range sm {
		out[k] = deepMerge(mapOf(out[k]), v)
	}
	return out
}

// checkTxnVersion validates Id and SyncToken for delete/void.
func (r *realm) checkTxnVersion(entity string, in map[string]any) (*record, string, *fault) {
	id := strings.TrimSpace(str(in["Id"]))
	if id == "" {
		return nil, "", faultRequired("Id")
	}
	rec, ok := r.get(entity, id)
	if !ok {
		return nil, "", faultNotFound()
	}
	if _, has := in["SyncToken"]; !has {
		return nil, "", faultRequired("SyncToken")
	}
	if strings.TrimSpace(str(in["SyncToken"])) != rec.obj["SyncToken"] {
		return nil, "", faultStale()
	}
	return rec, id, nil
}

// remove deletes a transaction. The caller holds r.mu.
func (r *realm) remove(entity string, in map[string]any, oc *opCtx) (map[string]any, *fault) {
	if !isTxn(entity) {
		return nil, faultUnsupportedOp("Delete")
	}
	rec, id, f := r.checkTxnVersion(entity, in)
	if f != nil {
		return nil, f
	}
	if isSalesForm(entity) && len(r.invApps[id]) > 0 {
		return nil, faultBusiness("This transaction has payments applied to it. Delete or change the payments before you delete the invoice.", "")
	}
	r.data[entity].store(id, &record{obj: rec.obj, raw: rec.raw, updated: oc.now, deleted: true})
	oc.emit(entity, id, "Delete")
	if entity == entPayment {
		r.setApplications(id, nil, oc)
	}
	r.refreshCustomer(refValue(rec.obj["CustomerRef"]))
	return map[string]any{"status": "Deleted", "domain": "QBO", "Id": id}, nil
}

// void voids a transaction: amounts go to zero, the object stays readable.
func (r *realm) void(entity string, in map[string]any, oc *opCtx) (map[string]any, *fault) {
	if !isTxn(entity) {
		return nil, faultUnsupportedOp("Void")
	}
	rec, id, f := r.checkTxnVersion(entity, in)
	if f != nil {
		return nil, f
	}
	if r.voided[id] {
		return nil, faultBusiness("This transaction is already voided.", "")
	}
	if isSalesForm(entity) && len(r.invApps[id]) > 0 {
		return nil, faultBusiness("This transaction has payments applied to it. Delete or change the payments before you void the invoice.", "")
	}
	obj := cloneMap(rec.obj)
	for _, l := range sliceOf(obj["Line"]) {
		if lm := mapOf(l); lm != nil {
			lm["Amount"] = 0.0
		}
	}
	obj["TotalAmt"] = 0.0
	if entity == entCreditMemo {
		obj["RemainingCredit"] = 0.0
	}
	if isSalesForm(entity) {
		obj["Balance"] = 0.0
		if td := mapOf(obj["TxnTaxDetail"]); td != nil {
			td["TotalTax"] = 0.0
			delete(td, "TaxLine")
		}
	} else {
		obj["UnappliedAmt"] = 0.0
	}
	note := "Voided"
	if pn := str(obj["PrivateNote"]); pn != "" {
		note = "Voided - " + pn
	}
	obj["PrivateNote"] = note
	r.stamp(obj, rec, oc)
	r.voided[id] = true
	r.put(entity, id, obj, oc.now)
	oc.emit(entity, id, "Void")
	if entity == entPayment {
		r.setApplications(id, nil, oc)
	}
	r.refreshCustomer(refValue(obj["CustomerRef"]))
	return r.data[entity].recs[id].obj, nil
}

// afterWrite keeps derived state (applications, balances) in step.
func (r *realm) afterWrite(entity, id string, old *record, oc *opCtx) {
	obj := r.data[entity].recs[id].obj
	switch entity {
	case entCustomer:
		if old == nil {
			if b, ok := num(obj["Balance"]); ok && b != 0 {
				r.openBal[id] = round2(b)
			}
		}
		r.refreshCustomer(id)
	case entInvoice, entCreditMemo:
		r.refreshCustomer(refValue(obj["CustomerRef"]))
		if old != nil {
			if prev := refValue(old.obj["CustomerRef"]); prev != refValue(obj["CustomerRef"]) {
				r.refreshCustomer(prev)
			}
		}
	case entPayment:
		apps := map[string]float64{}
		for _, l := range sliceOf(obj["Line"]) {
			lm := mapOf(l)
			amt, _ := num(lm["Amount"])
			for _, lt := range sliceOf(lm["LinkedTxn"]) {
				if isSalesForm(str(mapOf(lt)["TxnType"])) {
					apps[str(mapOf(lt)["TxnId"])] += amt
				}
			}
		}
		r.setApplications(id, apps, oc)
		r.refreshCustomer(refValue(obj["CustomerRef"]))
		if old != nil {
			if prev := refValue(old.obj["CustomerRef"]); prev != refValue(obj["CustomerRef"]) {
				r.refreshCustomer(prev)
			}
		}
	}
}

// setApplications replaces the invoices and credit memos a payment applies
// (transaction ids are shared, so one map holds both) and refreshes every
// one whose applications changed (Balance, LinkedTxn, SyncToken).
func (r *realm) setApplications(payID string, apps map[string]float64, oc *opCtx) {
	touched := map[string]bool{}
	for inv := range r.apps[payID] {
		touched[inv] = true
		delete(r.invApps[inv], payID)
	}
	delete(r.apps, payID)
	if len(apps) > 0 {
		r.apps[payID] = apps
		for inv, amt := range apps {
			touched[inv] = true
			if r.invApps[inv] == nil {
				r.invApps[inv] = map[string]float64{}
			}
			r.invApps[inv][payID] = amt
		}
	}
	for inv := range touched {
		entity := entInvoice
		rec, ok := r.get(entity, inv)
		if !ok {
			entity = entCreditMemo
			rec, ok = r.get(entity, inv)
		}
		if !ok {
			continue
		}
		obj := cloneMap(rec.obj)
		r.deriveInvoiceLinks(inv, obj)
		if sameJSON(obj["Balance"], rec.obj["Balance"]) && sameJSON(obj["LinkedTxn"], rec.obj["LinkedTxn"]) {
			continue
		}
		r.stamp(obj, rec, oc)
		r.put(entity, inv, obj, oc.now)
		oc.emit(entity, inv, "Update")
	}
}

// deriveInvoiceLinks sets Balance and LinkedTxn from the applications (of
// an invoice: what is still owed; of a credit memo: the credit left, also
// shown as RemainingCredit).
func (r *realm) deriveInvoiceLinks(id string, obj map[string]any) {
	total, _ := num(obj["TotalAmt"])
	applied := 0.0
	links := []any{}
	for _, pid := range sortedKeys(r.invApps[id]) {
		applied += r.invApps[id][pid]
		links = append(links, map[string]any{"TxnId": pid, "TxnType": "Payment"})
	}
	obj["Balance"] = round2(total - applied)
	if _, isCredit := obj["RemainingCredit"]; isCredit {
		obj["RemainingCredit"] = obj["Balance"]
	}
	obj["LinkedTxn"] = links
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && idLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !sameJSON(v, y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// customerBalance is the opening balance plus open invoice balances minus
// unapplied payment credit and the credit left on credit memos.
func (r *realm) customerBalance(id string) float64 {
	b := r.openBal[id]
	for _, rec := range r.ofCustomer(entInvoice, id) {
		v, _ := num(rec.obj["Balance"])
		b += v
	}
	for _, rec := range r.ofCustomer(entPayment, id) {
		v, _ := num(rec.obj["UnappliedAmt"])
		b -= v
	}
	for _, rec := range r.ofCustomer(entCreditMemo, id) {
		v, _ := num(rec.obj["Balance"])
		b -= v
	}
	return round2(b)
}

// ofCustomer returns the live transactions of one customer in id order.
func (r *realm) ofCustomer(entity, customerID string) []*record {
	t := r.data[entity]
	ids, _ := t.holding("CustomerRef", customerID)
	var out []*record
	for _, id := range ids {
		if rec := t.recs[id]; !rec.deleted && refValue(rec.obj["CustomerRef"]) == customerID {
			out = append(out, rec)
		}
	}
	return out
}

// refreshCustomer stores the customer's current Balance without bumping its
// SyncToken (QBO changes the balance without a customer update).
func (r *realm) refreshCustomer(id string) {
	rec, ok := r.get(entCustomer, id)
	if !ok {
		return
	}
	b := r.customerBalance(id)
	if cur, _ := num(rec.obj["Balance"]); cur == b {
		if _, has := rec.obj["Balance"]; has {
			return
		}
	}
	obj := cloneMap(rec.obj)
	obj["Balance"] = b
	obj["BalanceWithJobs"] = b
	r.data[entCustomer].store(id, newRecord(obj, rec.updated))
}

// normalize validates obj (the complete new state) and fills defaults and
// computed fields. id is the entity's id (the next id on create); old is
// nil on create.
func (r *realm) normalize(entity, id string, obj map[string]any, old *record, oc *opCtx) *fault {
	switch entity {
	case entCustomer:
		return r.normCustomer(id, obj, old)
	case entItem:
		return r.normItem(id, obj, old)
	case entAccount:
		return r.normAccount(id, obj, old)
	case entInvoice:
		return r.normInvoice(id, obj, old, oc)
	case entPayment:
		return r.normPayment(id, obj, old, oc)
	case entCreditMemo:
		return r.normCreditMemo(id, obj, old, oc)
	case entCompanyInfo, entPreferences:
		return nil
	}
	return faultUnsupportedOp("Create")
}

// trimStrings trims the given top-level string fields and checks lengths.
func trimStrings(obj map[string]any, limits map[string]int) *fault {
	for k, max := range limits {
		v, ok := obj[k]
		if !ok {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			return faultBadProperty(k)
		}
		s = strings.TrimSpace(s)
		if len([]rune(s)) > max {
			return faultLength(k, max, len([]rune(s)))
		}
		if s == "" {
			delete(obj, k)
		} else {
			obj[k] = s
		}
	}
	return nil
}

func badNameChars(s string) bool { return strings.ContainsAny(s, ":\t\n\r") }

func (r *realm) normCustomer(id string, obj map[string]any, old *record) *fault {
	if f := trimStrings(obj, map[string]int{"Title": 16, "GivenName": 100, "MiddleName": 100, "FamilyName": 100,
		"Suffix": 16, "CompanyName": 100, "DisplayName": 500, "PrintOnCheckName": 110, "Notes": 2000, "ResaleNum": 16}); f != nil {
		return f
	}
	if _, ok := obj["DisplayName"]; !ok {
		var parts []string
		for _, k := range []string{"Title", "GivenName", "MiddleName", "FamilyName", "Suffix"} {
			if s := str(obj[k]); s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) == 0 {
			return faultBusiness("You must fill out at least one of the following fields: Title, GivenName, MiddleName, FamilyName, Suffix or DisplayName.", "DisplayName")
		}
		obj["DisplayName"] = strings.Join(parts, " ")
	}
	name := str(obj["DisplayName"])
	if badNameChars(name) {
		return faultBusiness("The name cannot contain a colon (:), a tab or a new line.", "DisplayName")
	}
	if oid := r.data[entCustomer].nameTaken("DisplayName", name, id); oid != "" {
		return faultDuplicateName("customer, vendor or employee", oid)
	}
	if em := mapOf(obj["PrimaryEmailAddr"]); em != nil {
		addr := strings.TrimSpace(str(em["Address"]))
		for _, a := range strings.Split(addr, ",") {
			a = strings.TrimSpace(a)
			if addr != "" && (!strings.Contains(a, "@") || !strings.Contains(a, ".")) {
				// [U] exact code unconfirmed; QBO refuses addresses without @ and a dot.
				return faultBusiness("Email Address does not conform to the syntax rules of RFC 822.", "PrimaryEmailAddr.Address")
			}
		}
	}
	if v, ok := obj["PreferredDeliveryMethod"]; ok {
		switch str(v) {
		case "Print", "Email", "None":
		default:
			return faultInvalidValue("PreferredDeliveryMethod", str(v))
		}
	} else {
		obj["PreferredDeliveryMethod"] = "Print"
	}
	fqn := name
	if p := refValue(obj["ParentRef"]); p != "" {
		prec, ok := r.get(entCustomer, p)
		if !ok || p == id {
			return faultInvalidRef("ParentRef")
		}
		obj["ParentRef"] = ref(p, str(prec.obj["DisplayName"]))
		fqn = str(prec.obj["FullyQualifiedName"]) + ":" + name
		obj["Job"] = boolOr(obj["Job"], true)
		lvl, _ := num(prec.obj["Level"])
		obj["Level"] = lvl + 1
	} else {
		delete(obj, "ParentRef")
		delete(obj, "Level")
		obj["Job"] = boolOr(obj["Job"], false)
	}
	obj["FullyQualifiedName"] = fqn
	obj["BillWithParent"] = boolOr(obj["BillWithParent"], false)
	obj["Active"] = boolOr(obj["Active"], true)
	if r.country() == "US" {
		obj["Taxable"] = boolOr(obj["Taxable"], obj["DefaultTaxCodeRef"] != nil)
	} else {
		delete(obj, "Taxable")
	}
	if _, ok := obj["PrintOnCheckName"]; !ok {
		if cn := str(obj["CompanyName"]); cn != "" {
			obj["PrintOnCheckName"] = cn
		} else {
			obj["PrintOnCheckName"] = name
		}
	}
	if refValue(obj["CurrencyRef"]) == "" {
		obj["CurrencyRef"] = cloneMap(usd)
	}
	r.addressIDs(obj, "BillAddr", "ShipAddr", "OtherAddr")
	if old == nil {
		b, ok := num(obj["Balance"])
		if _, given := obj["Balance"]; given && !ok {
			return faultBadProperty("Balance")
		}
		obj["Balance"] = round2(b)
		obj["BalanceWithJobs"] = round2(b)
		return nil
	}
	bal := r.customerBalance(id)
	obj["Balance"] = bal
	obj["BalanceWithJobs"] = bal
	if boolOr(old.obj["Active"], true) && !boolOr(obj["Active"], true) && bal != 0 {
		return validation("6000", "Delete List Has Balance Error",
			"The entity you are trying to delete has an open balance. : This customer cannot be deleted because it has a non-zero balance", "")
	}
	return nil
}

func (r *realm) addressIDs(obj map[string]any, keys ...string) {
	for _, k := range keys {
		a := mapOf(obj[k])
		if a == nil {
			delete(obj, k)
			continue
		}
		if str(a["Id"]) == "" {
			a["Id"] = r.nextID("PhysicalAddress")
		}
	}
}

var itemTypes = map[string]bool{"Service": true, "Inventory": true, "NonInventory": true, "Category": true, "Group": true}

func (r *realm) normItem(id string, obj map[string]any, old *record) *fault {
	if f := trimStrings(obj, map[string]int{"Name": 100, "Sku": 100, "Description": 4000, "PurchaseDesc": 4000}); f != nil {
		return f
	}
	name := str(obj["Name"])
	if name == "" {
		return faultRequired("Name")
	}
	if badNameChars(name) {
		return faultBusiness("The name cannot contain a colon (:), a tab or a new line.", "Name")
	}
	if oid := r.data[entItem].nameTaken("Name", name, id); oid != "" {
		return faultDuplicateName("product or service", oid)
	}
	typ := str(obj["Type"])
	if typ == "" {
		// [U] QBO's default type is not documented; Service is the common case.
		typ = "Service"
	}
	if !itemTypes[typ] {
		return faultInvalidValue("Type", typ)
	}
	obj["Type"] = typ
	for _, k := range []string{"IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"} {
		v := refValue(obj[k])
		if v == "" {
			delete(obj, k)
			continue
		}
		acc, ok := r.get(entAccount, v)
		if !ok {
			return faultInvalidRef(k)
		}
		obj[k] = ref(v, str(acc.obj["Name"]))
	}
	if typ == "Service" || typ == "NonInventory" || typ == "Inventory" {
		if obj["IncomeAccountRef"] == nil {
			return faultRequired("IncomeAccountRef")
		}
	}
	track := boolOr(obj["TrackQtyOnHand"], false)
	if typ == "Inventory" {
		for _, k := range []string{"ExpenseAccountRef", "AssetAccountRef", "QtyOnHand", "InvStartDate"} {
			if obj[k] == nil {
				return faultRequired(k)
			}
		}
		if !track {
			return faultBusiness("TrackQtyOnHand must be true for Inventory items.", "TrackQtyOnHand")
		}
	}
	if old != nil && boolOr(old.obj["TrackQtyOnHand"], false) && !track {
		return faultBusiness("You can't turn off quantity tracking for an inventory item.", "TrackQtyOnHand")
	}
	for _, k := range []string{"UnitPrice", "PurchaseCost", "QtyOnHand"} {
		if v, ok := obj[k]; ok {
			n, isNum := num(v)
			if !isNum {
				return faultBadProperty(k)
			}
			obj[k] = n
		}
	}
	if r.country() != "US" {
		if tc := refValue(obj["SalesTaxCodeRef"]); tc != "" {
			if _, ok := r.get(entTaxCode, tc); !ok {
				return faultInvalidRef("SalesTaxCodeRef")
			}
		}
	}
	fqn := name
	if p := refValue(obj["ParentRef"]); p != "" {
		prec, ok := r.get(entItem, p)
		if !ok || p == id {
			return faultInvalidRef("ParentRef")
		}
		obj["ParentRef"] = ref(p, str(prec.obj["Name"]))
		fqn = str(prec.obj["FullyQualifiedName"]) + ":" + name
		obj["SubItem"] = true
	} else {
		delete(obj, "ParentRef")
		obj["SubItem"] = false
	}
	obj["FullyQualifiedName"] = fqn
	obj["Active"] = boolOr(obj["Active"], true)
	obj["Taxable"] = boolOr(obj["Taxable"], false)
	obj["SalesTaxIncluded"] = boolOr(obj["SalesTaxIncluded"], false)
	obj["PurchaseTaxIncluded"] = boolOr(obj["PurchaseTaxIncluded"], false)
	obj["TrackQtyOnHand"] = track
	if _, ok := obj["UnitPrice"]; !ok {
		obj["UnitPrice"] = 0.0
	}
	if _, ok := obj["PurchaseCost"]; !ok {
		obj["PurchaseCost"] = 0.0
	}
	return nil
}

var accountClass = map[string]string{
	"Bank": "Asset", "Other Current Asset": "Asset", "Fixed Asset": "Asset", "Other Asset": "Asset",
	"Accounts Receivable": "Asset", "Equity": "Equity", "Expense": "Expense", "Other Expense": "Expense",
	"Cost of Goods Sold": "Expense", "Accounts Payable": "Liability", "Credit Card": "Liability",
	"Long Term Liability": "Liability", "Other Current Liability": "Liability", "Income": "Revenue",
	"Other Income": "Revenue",
}

var accountDefaultSubType = map[string]string{
	"Income": "ServiceFeeIncome", "Bank": "Checking", "Expense": "OtherMiscellaneousServiceCost",
	"Other Current Asset": "OtherCurrentAssets", "Accounts Receivable": "AccountsReceivable",
	"Cost of Goods Sold": "SuppliesMaterialsCogs", "Equity": "OpeningBalanceEquity",
}

func (r *realm) normAccount(id string, obj map[string]any, _ *record) *fault {
	if f := trimStrings(obj, map[string]int{"Name": 100, "AcctNum": 20, "Description": 100}); f != nil {
		return f
	}
	name := str(obj["Name"])
	if name == "" {
		return faultRequired("Name")
	}
	if badNameChars(name) {
		return faultBusiness("The name cannot contain a colon (:), a tab or a new line.", "Name")
	}
	if oid := r.data[entAccount].nameTaken("Name", name, id); oid != "" {
		return faultDuplicateName("account", oid)
	}
	typ := str(obj["AccountType"])
	if typ == "" {
		return faultRequired("AccountType")
	}
	class, ok := accountClass[typ]
	if !ok {
		return faultInvalidValue("AccountType", typ)
	}
	obj["Classification"] = class
	if str(obj["AccountSubType"]) == "" {
		if st := accountDefaultSubType[typ]; st != "" {
			obj["AccountSubType"] = st
		}
	}
	obj["FullyQualifiedName"] = name
	obj["Active"] = boolOr(obj["Active"], true)
	obj["SubAccount"] = false
	if _, ok := obj["CurrentBalance"]; !ok {
		obj["CurrentBalance"] = 0.0
		obj["CurrentBalanceWithSubAccounts"] = 0.0
	}
	if refValue(obj["CurrencyRef"]) == "" {
		obj["CurrencyRef"] = cloneMap(usd)
	}
	return nil
}
