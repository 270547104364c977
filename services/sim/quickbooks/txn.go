package quickbooks

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// customerRef validates a CustomerRef and fills its name.
func (r *realm) customerRef(obj map[string]any) *fault {
	cid := refValue(obj["CustomerRef"])
	if cid == "" {
		return faultRequired("CustomerRef")
	}
	c, ok := r.get(entCustomer, cid)
	if !ok {
		return faultInvalidRef("CustomerRef")
	}
	if !boolOr(c.obj["Active"], true) {
		return faultNotFound()
	}
	obj["CustomerRef"] = ref(cid, str(c.obj["DisplayName"]))
	return nil
}

func txnDate(obj map[string]any, key string, def time.Time) (time.Time, *fault) {
	s := strings.TrimSpace(str(obj[key]))
	if s == "" {
		if def.IsZero() {
			delete(obj, key)
			return time.Time{}, nil
		}
		obj[key] = qboDate(def)
		return def, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, companyTZ)
	if err != nil {
		return time.Time{}, validation("2170", "Invalid Date", "Invalid Date : "+key+" must be a date in YYYY-MM-DD format", key)
	}
	obj[key] = s
	return t, nil
}

var termDays = map[string]int{"1": 0, "2": 15, "3": 30, "4": 60}

// taxMessage is QBO's region-specific text for a missing line tax code.
func taxMessage(country string) string {
	switch country {
	case "GB", "UK", "IE":
		return "Make sure all your transactions have a VAT rate before you save."
	case "CA":
		return "Make sure all your transactions have a GST/HST rate before you save."
	case "AU":
		return "Make sure all your transactions have a GST rate before you save."
	}
	return "One or more transaction lines do not have a tax code. Assign a tax code to every line before you save."
}

func (r *realm) normInvoice(id string, obj map[string]any, old *record, oc *opCtx) *fault {
	if f := r.customerRef(obj); f != nil {
		return f
	}
	cust, _ := r.get(entCustomer, refValue(obj["CustomerRef"]))
	if f := trimStrings(obj, map[string]int{"DocNumber": 21, "PrivateNote": 4000, "TrackingNum": 31}); f != nil {
		return f
	}
	td, f := txnDate(obj, "TxnDate", oc.now)
	if f != nil {
		return f
	}
	terms := refValue(obj["SalesTermRef"])
	if terms == "" {
		terms = refValue(path(r.preferences(), "SalesFormsPrefs.DefaultTerms"))
		if terms == "" {
			terms = "3"
		}
	}
	obj["SalesTermRef"] = map[string]any{"value": terms}
	if _, f := txnDate(obj, "DueDate", td.AddDate(0, 0, termDays[terms])); f != nil {
		return f
	}
	if _, f := txnDate(obj, "ShipDate", time.Time{}); f != nil {
		return f
	}
	if memo := mapOf(obj["CustomerMemo"]); memo != nil {
		if n := len([]rune(str(memo["value"]))); n > 1000 {
			return faultLength("CustomerMemo", 1000, n)
		}
	}

	// DocNumber: automatic unless the company uses custom numbers.
	doc := str(obj["DocNumber"])
	if doc == "" && old == nil && !r.customTxnNumbers() {
		for {
			doc = strconv.Itoa(r.docNext)
			r.docNext++
			if r.docNumberOwner(doc, id) == "" {
				break
			}
		}
		obj["DocNumber"] = doc
	}
	if doc != "" && !oc.allowDupDoc && (old == nil || str(old.obj["DocNumber"]) != doc) {
		if owner := r.docNumberOwner(doc, id); owner != "" {
			return faultDuplicateDoc(doc, "Invoice", owner)
		}
	}

	// Lines.
	var oldLineIDs = map[string]bool{}
	maxLine := 0
	if old != nil {
		for _, l := range sliceOf(old.obj["Line"]) {
			if lid := str(mapOf(l)["Id"]); lid != "" {
				oldLineIDs[lid] = true
				if n, _ := strconv.Atoi(lid); n > maxLine {
					maxLine = n
				}
			}
		}
	}
	nonUS := r.country() != "US"
	var sales, discounts []map[string]any
	subtotal := 0.0
	taxBase := map[string]float64{}
	for i, l := range sliceOf(obj["Line"]) {
		lm := cloneMap(mapOf(l))
		if lm == nil {
			return faultBadProperty(fmt.Sprintf("Line[%d]", i))
		}
		dt := str(lm["DetailType"])
		if dt == "SubTotalLineDetail" {
			continue
		}
		if dt == "" {
			return faultRequired("Line.DetailType")
		}
		if d := str(lm["Description"]); len([]rune(d)) > 4000 {
			return faultLength("Line.Description", 4000, len([]rune(d)))
		}
		lid := str(lm["Id"])
		if lid == "" || !oldLineIDs[lid] {
			maxLine++
			lid = strconv.Itoa(maxLine)
		}
		lm["Id"] = lid
		switch dt {
		case "SalesItemLineDetail":
			d := mapOf(lm["SalesItemLineDetail"])
			if d == nil {
				return faultRequired("Line.SalesItemLineDetail")
			}
			iid := refValue(d["ItemRef"])
			if iid == "" {
				return faultRequired("Line.SalesItemLineDetail.ItemRef")
			}
			item, ok := r.get(entItem, iid)
			if !ok {
				return faultInvalidRef("Line.SalesItemLineDetail.ItemRef")
			}
			if !boolOr(item.obj["Active"], true) {
				return faultNotFound()
			}
			d["ItemRef"] = ref(iid, str(item.obj["Name"]))
			amt, f := lineAmount(lm, d, item.obj)
			if f != nil {
				return f
			}
			tc := refValue(d["TaxCodeRef"])
			if nonUS {
				if tc == "" || tc == "TAX" || tc == "NON" {
					return faultBusiness(taxMessage(r.country()), "Line.SalesItemLineDetail.TaxCodeRef")
				}
				if _, ok := r.get(entTaxCode, tc); !ok {
					return faultInvalidRef("Line.SalesItemLineDetail.TaxCodeRef")
				}
				taxBase[tc] += amt
			} else {
				if tc == "" {
					tc = "NON"
					if boolOr(item.obj["Taxable"], false) {
						tc = "TAX"
					}
				}
				if tc != "TAX" && tc != "NON" {
					if _, ok := r.get(entTaxCode, tc); !ok {
						return faultInvalidRef("Line.SalesItemLineDetail.TaxCodeRef")
					}
				}
			}
			d["TaxCodeRef"] = map[string]any{"value": tc}
			lm["SalesItemLineDetail"] = d
			subtotal += amt
			sales = append(sales, lm)
		case "DescriptionOnly":
			if lm["DescriptionOnly"] == nil {
				lm["DescriptionOnly"] = map[string]any{}
			}
			sales = append(sales, lm)
		case "DiscountLineDetail":
			d := mapOf(lm["DiscountLineDetail"])
			if d == nil {
				d = map[string]any{}
			}
			lm["DiscountLineDetail"] = d
			discounts = append(discounts, lm)
		default:
			return faultInvalidValue("Line.DetailType", dt)
		}
	}
	if len(sales) == 0 {
		return faultRequired("Line")
	}
	subtotal = round2(subtotal)
	discount := 0.0
	for _, lm := range discounts {
		d := mapOf(lm["DiscountLineDetail"])
		if boolOr(d["PercentBased"], false) {
			pct, ok := num(d["DiscountPercent"])
			if !ok || pct < 0 || pct > 100 {
				return faultRequired("Line.DiscountLineDetail.DiscountPercent")
			}
			d["DiscountPercent"] = pct
			lm["Amount"] = round2(subtotal * pct / 100)
		} else {
			a, ok := num(lm["Amount"])
			if !ok {
				return faultRequired("Line.Amount")
			}
			d["PercentBased"] = false
			lm["Amount"] = round2(a)
		}
		a, _ := num(lm["Amount"])
		discount += a
	}
	discount = round2(discount)

	// Tax.
	tax := 0.0
	inclusive := false
	txd := map[string]any{}
	if in := mapOf(obj["TxnTaxDetail"]); in != nil && in["TxnTaxCodeRef"] != nil {
		txd["TxnTaxCodeRef"] = in["TxnTaxCodeRef"]
	}
	if nonUS {
		gtc := str(obj["GlobalTaxCalculation"])
		switch gtc {
		case "":
			gtc = "TaxExcluded"
		case "TaxExcluded", "TaxInclusive", "NotApplicable":
		default:
			return faultInvalidValue("GlobalTaxCalculation", gtc)
		}
		obj["GlobalTaxCalculation"] = gtc
		inclusive = gtc == "TaxInclusive"
		var taxLines []any
		factor := 1.0
		if subtotal != 0 {
			factor = (subtotal - discount) / subtotal
		}
		for _, tc := range sortedKeys(taxBase) {
			rate := r.taxRates[tc]
			base := taxBase[tc] * factor
			var t float64
			switch gtc {
			case "TaxExcluded":
				t = round2(base * rate / 100)
			case "TaxInclusive":
				t = round2(base - base/(1+rate/100))
				base -= t
			}
			tax += t
			taxLines = append(taxLines, map[string]any{"Amount": t, "DetailType": "TaxLineDetail",
				"TaxLineDetail": map[string]any{"TaxRateRef": map[string]any{"value": tc}, "PercentBased": true,
					"TaxPercent": rate, "NetAmountTaxable": round2(base)}})
		}
		if taxLines != nil {
			txd["TaxLine"] = taxLines
		}
	} else {
		delete(obj, "GlobalTaxCalculation")
		if in := mapOf(obj["TxnTaxDetail"]); in != nil {
			if t, ok := num(in["TotalTax"]); ok {
				tax = t // an explicit override, as clients may send with AST
			}
		}
	}
	tax = round2(tax)
	txd["TotalTax"] = tax
	obj["TxnTaxDetail"] = txd
	total := subtotal - discount
	if !inclusive {
		total += tax
	}
	total = round2(total)
	if total < 0 {
		return faultBusiness("The transaction total can't be negative.", "TotalAmt")
	}

	lines := make([]any, 0, len(sales)+len(discounts)+1)
	n := 0
	for _, lm := range sales {
		n++
		lm["LineNum"] = float64(n)
		lines = append(lines, lm)
	}
	lines = append(lines, map[string]any{"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": map[string]any{}})
	for _, lm := range discounts {
		n++
		lm["LineNum"] = float64(n)
		lines = append(lines, lm)
	}
	obj["Line"] = lines
	obj["TotalAmt"] = total
	r.deriveInvoiceLinks(id, obj)
	if b, _ := num(obj["Balance"]); b < 0 {
		return faultBusiness("The invoice total can't be less than the payments already applied to it.", "TotalAmt")
	}

	// Legacy custom fields: only the enabled slots are kept and shown.
	cf, f := r.customFields(obj["CustomField"])
	if f != nil {
		return f
	}
	if cf == nil {
		delete(obj, "CustomField")
	} else {
		obj["CustomField"] = cf
	}

	if refValue(obj["CurrencyRef"]) == "" {
		if c := mapOf(cust.obj["CurrencyRef"]); c != nil {
			obj["CurrencyRef"] = cloneMap(c)
		} else {
			obj["CurrencyRef"] = cloneMap(usd)
		}
	}
	if old == nil {
		if obj["BillEmail"] == nil && cust.obj["PrimaryEmailAddr"] != nil {
			obj["BillEmail"] = map[string]any{"Address": str(mapOf(cust.obj["PrimaryEmailAddr"])["Address"])}
		}
		if obj["BillAddr"] == nil && cust.obj["BillAddr"] != nil {
			obj["BillAddr"] = cloneValue(cust.obj["BillAddr"])
		}
	}
	r.addressIDs(obj, "BillAddr", "ShipAddr", "ShipFromAddr")
	for k, allowed := range map[string][]string{"PrintStatus": {"NotSet", "NeedToPrint", "PrintComplete"}, "EmailStatus": {"NotSet", "NeedToSend", "EmailSent"}} {
		v := str(obj[k])
		if v == "" {
			obj[k] = "NotSet"
			continue
		}
		if !contains(allowed, v) {
			return faultInvalidValue(k, v)
		}
	}
	if obj["EmailStatus"] == "NeedToSend" && obj["BillEmail"] == nil {
		return faultBusiness("Email Address is missing. Please add an email address for this customer.", "BillEmail")
	}
	for _, k := range []string{"AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment", "ApplyTaxAfterDiscount"} {
		obj[k] = boolOr(obj[k], false)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// lineAmount reconciles Amount, Qty and UnitPrice of a sales line.
func lineAmount(lm, d, item map[string]any) (float64, *fault) {
	amt, hasAmt := num(lm["Amount"])
	if _, present := lm["Amount"]; present && !hasAmt {
		return 0, faultBadProperty("Line.Amount")
	}
	qty, hasQty := num(d["Qty"])
	price, hasPrice := num(d["UnitPrice"])
	switch {
	case hasQty && hasPrice:
		if hasAmt && math.Abs(qty*price-amt) > 0.01 {
			return 0, validation("6070", "Amount is not equal to UnitPrice * Qty",
				fmt.Sprintf("Amount is not equal to UnitPrice * Qty. Supplied value:%s", strconv.FormatFloat(amt, 'f', -1, 64)), "Line.Amount")
		}
		amt = mulCents(qty, price)
	case hasAmt && hasPrice:
		if price != 0 {
			qty = amt / price
		}
	case hasAmt && hasQty:
		if qty != 0 {
			price = amt / qty
		}
	case hasAmt:
		qty = 1
		price = amt
	default:
		if !hasQty {
			qty = 1
		}
		if !hasPrice {
			price, _ = num(item["UnitPrice"])
		}
		amt = mulCents(qty, price)
	}
	amt = round2(amt)
	lm["Amount"] = amt
	d["Qty"] = qty
	d["UnitPrice"] = price
	return amt, nil
}

// docNumberOwner returns the id of another live invoice using doc.
func (r *realm) docNumberOwner(doc, self string) string {
	t := r.data[entInvoice]
	ids, _ := t.holding("DocNumber", doc)
	for _, id := range ids {
		if rec := t.recs[id]; id != self && !rec.deleted && str(rec.obj["DocNumber"]) == doc {
			return id
		}
	}
	return ""
}

// customFields maps the request's CustomField array onto the enabled
// legacy slots 1..3 of SalesFormsPrefs.
func (r *realm) customFields(in any) ([]any, *fault) {
	given := map[string]string{}
	for _, e := range sliceOf(in) {
		m := mapOf(e)
		if m == nil {
			continue
		}
		if sv, ok := m["StringValue"]; ok {
			given[str(m["DefinitionId"])] = str(sv)
		}
	}
	var out []any
	for slot := 1; slot <= 3; slot++ {
		sid := strconv.Itoa(slot)
		on, name := r.customFieldSlot(slot)
		if !on {
			continue
		}
		f := map[string]any{"DefinitionId": sid, "Name": name, "Type": "StringType"}
		if v, ok := given[sid]; ok && v != "" {
			if n := len([]rune(v)); n > 31 {
				return nil, faultLength("CustomField.StringValue", 31, n)
			}
			f["StringValue"] = v
		}
		out = append(out, f)
	}
	return out, nil
}

// customFieldSlot reads UseSalesCustomN and SalesCustomNameN.
func (r *realm) customFieldSlot(slot int) (bool, string) {
	on, name := false, ""
	for _, group := range sliceOf(path(r.preferences(), "SalesFormsPrefs.CustomField")) {
		for _, f := range sliceOf(mapOf(group)["CustomField"]) {
			fm := mapOf(f)
			switch str(fm["Name"]) {
			case fmt.Sprintf("SalesFormsPrefs.UseSalesCustom%d", slot):
				on = boolOr(fm["BooleanValue"], false)
			case fmt.Sprintf("SalesFormsPrefs.SalesCustomName%d", slot):
				name = str(fm["StringValue"])
			}
		}
	}
	return on, name
}

func nameValue(name, value string) map[string]any {
	return map[string]any{
		"name":            "{http://schema.intuit.com/finance/v3}NameValue",
		"declaredType":    "com.intuit.schema.finance.v3.NameValue",
		"scope":           "javax.xml.bind.JAXBElement$GlobalScope",
		"value":           map[string]any{"Name": name, "Value": value},
		"nil":             false,
		"globalScope":     true,
		"typeSubstituted": false,
	}
}

// normCreditMemo: a credit memo is a sales form like an invoice (lines,
// tax, numbers from the same sequence) without terms or due date; its
// Balance and RemainingCredit are the credit not yet applied by payments.
func (r *realm) normCreditMemo(id string, obj map[string]any, old *record, oc *opCtx) *fault {
	obj["RemainingCredit"] = 0.0 // marks the sales form as a credit for deriveInvoiceLinks
	if f := r.normInvoice(id, obj, old, oc); f != nil {
		return f
	}
	for _, k := range []string{"DueDate", "SalesTermRef", "ShipDate", "AllowIPNPayment", "AllowOnlinePayment",
		"AllowOnlineCreditCardPayment", "AllowOnlineACHPayment"} {
		delete(obj, k)
	}
	return nil
}

func (r *realm) normPayment(id string, obj map[string]any, old *record, oc *opCtx) *fault {
	if f := r.customerRef(obj); f != nil {
		return f
	}
	cid := refValue(obj["CustomerRef"])
	if f := trimStrings(obj, map[string]int{"PaymentRefNum": 21, "PrivateNote": 4000}); f != nil {
		return f
	}
	if obj["TotalAmt"] == nil {
		return faultRequired("TotalAmt")
	}
	total, ok := num(obj["TotalAmt"])
	if !ok {
		return faultBadProperty("TotalAmt")
	}
	if total < 0 {
		return faultBusiness("The payment amount can't be negative.", "TotalAmt")
	}
	total = round2(total)
	obj["TotalAmt"] = total
	if _, f := txnDate(obj, "TxnDate", oc.now); f != nil {
		return f
	}
	// Money already applied by this payment is available again to itself.
	// Lines that apply a credit memo add its credit to the money the
	// payment applies to invoices: a payment of 0 can settle an invoice
	// with a credit.
	prev := r.apps[id]
	applied, credited := 0.0, 0.0
	perInvoice := map[string]float64{}
	lines := make([]any, 0)
	for i, l := range sliceOf(obj["Line"]) {
		lm := cloneMap(mapOf(l))
		if lm == nil {
			return faultBadProperty(fmt.Sprintf("Line[%d]", i))
		}
		amt, ok := num(lm["Amount"])
		if !ok {
			return faultRequired("Line.Amount")
		}
		if amt < 0 {
			return faultBusiness("Applied amounts can't be negative.", "Line.Amount")
		}
		amt = round2(amt)
		lts := sliceOf(lm["LinkedTxn"])
		if len(lts) != 1 {
			return faultRequired("Line.LinkedTxn")
		}
		lt := mapOf(lts[0])
		tid, ttype := strings.TrimSpace(str(lt["TxnId"])), str(lt["TxnType"])
		if tid == "" {
			return faultRequired("Line.LinkedTxn.TxnId")
		}
		if !isSalesForm(ttype) {
			// Journal entries and refunds are not simulated.
			return faultInvalidValue("Line.LinkedTxn.TxnType", ttype)
		}
		inv, ok := r.get(ttype, tid)
		if !ok {
			return faultInvalidRef("Line.LinkedTxn.TxnId")
		}
		if refValue(inv.obj["CustomerRef"]) != cid {
			return faultBusiness("The transaction you are applying the payment to belongs to a different customer.", "Line.LinkedTxn")
		}
		if r.voided[tid] {
			return faultBusiness("You can't apply a payment to a voided transaction.", "Line.LinkedTxn")
		}
		perInvoice[tid] += amt
		open, _ := num(inv.obj["Balance"])
		open = round2(open + prev[tid])
		if perInvoice[tid] > open+0.001 {
			return faultBusiness(fmt.Sprintf("The payment amount applied to transaction %s (%.2f) is more than its open balance (%.2f).", tid, perInvoice[tid], open), "Line.Amount")
		}
		if ttype == entCreditMemo {
			credited += amt
		} else {
			applied += amt
		}
		lm["Amount"] = amt
		lm["LinkedTxn"] = []any{map[string]any{"TxnId": tid, "TxnType": ttype}}
		lm["LineEx"] = map[string]any{"any": []any{
			nameValue("txnId", tid),
			nameValue("txnOpenBalance", strconv.FormatFloat(open, 'f', 2, 64)),
			nameValue("txnReferenceNumber", str(inv.obj["DocNumber"])),
		}}
		lines = append(lines, lm)
	}
	applied, credited = round2(applied), round2(credited)
	if credited > applied+0.001 {
		return faultBusiness(fmt.Sprintf("The credits applied (%.2f) are more than the amount applied to invoices (%.2f).", credited, applied), "Line.Amount")
	}
	if applied-credited > total+0.001 {
		return faultBusiness(fmt.Sprintf("The amount applied (%.2f) is more than the payment amount (%.2f).", applied-credited, total), "TotalAmt")
	}
	obj["Line"] = lines
	obj["UnappliedAmt"] = round2(total - (applied - credited))
	dep := refValue(obj["DepositToAccountRef"])
	if dep == "" {
		dep = r.undeposited
	}
	if dep != "" {
		acc, ok := r.get(entAccount, dep)
		if !ok {
			return faultInvalidRef("DepositToAccountRef")
		}
		obj["DepositToAccountRef"] = ref(dep, str(acc.obj["Name"]))
	}
	obj["ProcessPayment"] = boolOr(obj["ProcessPayment"], false)
	if refValue(obj["CurrencyRef"]) == "" {
		obj["CurrencyRef"] = cloneMap(usd)
	}
	_ = old
	return nil
}
