// Package record holds the payloads the stages pass in envelopes: the full
// source record the ingestor fetched, and the record the transformer mapped
// for the other side.
package record

import (
	"strings"

	"github.com/ledgersync/ledgersync/pkg/filter"
	"github.com/ledgersync/ledgersync/streams"
)

// Ingested is the payload of sync.<conn>.<object>.ingested.<source>.
type Ingested struct {
	// Fields are HubSpot properties as HubSpot sends them, or QBO fields
	// flattened to paths ("PrimaryEmailAddr.Address", "MetaData.CreateTime").
	Fields map[string]string `json:"fields"`
	// Related holds values of associated records the rules need:
	// "company.name" (the contact's primary company, P11),
	// "invoices.hs_invoice_status" (one value per invoice, P6 filters).
	Related map[string][]string `json:"related,omitempty"`
	// Deleted marks a record deleted or archived at the source.
	Deleted bool `json:"deleted,omitempty"`
}

// FilterFields is the record as the sync filters see it.
func (in Ingested) FilterFields() filter.Fields {
	f := make(filter.Fields, len(in.Fields)+len(in.Related))
	for k, v := range in.Fields {
		f[k] = []string{v}
	}
	for k, v := range in.Related {
		f[k] = v
	}
	return f
}

// First returns the first related value of key, or "".
func (in Ingested) First(key string) string {
	if v := in.Related[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Transformed is the payload of sync.<conn>.<object>.transformed.<source>.
type Transformed struct {
	Target streams.System `json:"target"`
	// Fields are in the target's terms: QBO field paths or HubSpot properties.
	Fields map[string]string `json:"fields"`
	// MatchKey finds the record on the other side at first sight (contacts:
	// the lowercased email, P11; products: the SKU, P9).
	MatchKey string `json:"match_key,omitempty"`
	// Hash of Fields: equal to the hash stored with the link means this is
	// our own write coming back (P18).
	Hash    string `json:"hash"`
	Deleted bool   `json:"deleted,omitempty"`
	// Skip, when set, says why this record does not sync in this direction
	// though the filters let it through (an invoice made in QBO changed in
	// HubSpot: QBO is its source, P14).
	Skip string `json:"skip,omitempty"`
	// SourceRelated are the related values of the source record that went
	// into Fields (a contact's primary company name, P11). A write back to
	// the source leaves them as they are, so its echo carries them again:
	// the link keeps them for the writer's echo.
	SourceRelated map[string][]string `json:"source_related,omitempty"`
}

// NormalizeSKU is the match key form of a SKU: QBO compares SKUs without
// regard to case.
func NormalizeSKU(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NormalizeEmail is the match key form of an email address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Resolved is the payload of sync.<conn>.<object>.resolved.<target>: what
// the writer must do.
type Resolved struct {
	Pair string `json:"pair"` // the link
	// Action is create or update.
	Action   string            `json:"action"`
	TargetID string            `json:"target_id,omitempty"` // for update
	Fields   map[string]string `json:"fields"`
	MatchKey string            `json:"match_key,omitempty"`
	// SourceHash is the incoming record's mapped hash, stored on the
	// source's side of the link once written.
	SourceHash string `json:"source_hash"`
	// SourceRelated is Transformed.SourceRelated, stored on the source's
	// side of the link once written.
	SourceRelated map[string][]string `json:"source_related,omitempty"`
}

// Actions of a resolved record.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	// ActionArchive archives (HubSpot) or deactivates (QBO) the target.
	ActionArchive = "archive"
)
