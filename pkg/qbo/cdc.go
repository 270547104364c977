package qbo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// CDCMaxObjects is the most objects one CDC answer holds; a full answer
// means "poll again from the last LastUpdatedTime".
const CDCMaxObjects = 1000

// CDCWindow is how far back changedSince may reach.
const CDCWindow = 30 * 24 * time.Hour

// Deleted is a deleted object reported by CDC (a stub: id and time only).
type Deleted struct {
	ID          string
	LastUpdated time.Time
}

// CDCResult holds the changes of one CDC call, per entity. Changed objects
// come in LastUpdatedTime order; voided invoices and deactivated name-list
// objects are changes, not deletions.
type CDCResult struct {
	Customers []Customer
	Items     []Item
	Invoices  []Invoice
	Payments  []Payment
	Accounts  []Account
	// Other holds changed objects of entities without a type here.
	Other map[string][]json.RawMessage
	// Deleted lists deleted objects per entity name.
	Deleted map[string][]Deleted
	// Count is the number of objects returned, deletions included.
	Count int
}

// Full reports an answer at QBO's 1000-object cap: more changes may exist,
// so poll again from the latest LastUpdatedTime seen.
func (r *CDCResult) Full() bool { return r.Count >= CDCMaxObjects }

// CDC returns what changed in entities since the given time (at most 30
// days back).
func (c *Client) CDC(ctx context.Context, entities []string, since time.Time) (*CDCResult, error) {
	if len(entities) == 0 {
		return nil, syncerr.Permanentf(CodeValidation, "qbo: cdc: no entities")
	}
	if c.now().Sub(since) > CDCWindow {
		return nil, syncerr.Permanentf(CodeValidation, "qbo: cdc: changedSince %s is more than 30 days back", since.Format(time.RFC3339))
	}
	q := url.Values{"entities": {strings.Join(entities, ",")}, "changedSince": {since.Format(time.RFC3339)}}
	body, err := c.do(ctx, request{method: http.MethodGet, entity: "cdc", query: q})
	if err != nil {
		return nil, err
	}
	var env struct {
		CDCResponse []struct {
			QueryResponse []map[string]json.RawMessage `json:"QueryResponse"`
		} `json:"CDCResponse"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode cdc answer: %w", err))
	}
	res := &CDCResult{Other: map[string][]json.RawMessage{}, Deleted: map[string][]Deleted{}}
	for _, cr := range env.CDCResponse {
		for _, qr := range cr.QueryResponse {
			for entity, raw := range qr {
				switch entity {
				case "startPosition", "maxResults", "totalCount":
					continue
				}
				if err := res.add(entity, raw); err != nil {
					return nil, err
				}
			}
		}
	}
	return res, nil
}

func (r *CDCResult) add(entity string, raw json.RawMessage) error {
	var objs []json.RawMessage
	if err := json.Unmarshal(raw, &objs); err != nil {
		return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode cdc %s: %w", entity, err))
	}
	for _, o := range objs {
		r.Count++
		var head struct {
			ID       string    `json:"Id"`
			Status   string    `json:"status"`
			MetaData *MetaData `json:"MetaData"`
		}
		if err := json.Unmarshal(o, &head); err != nil {
			return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode cdc %s: %w", entity, err))
		}
		if strings.EqualFold(head.Status, "Deleted") {
			d := Deleted{ID: head.ID}
			if head.MetaData != nil {
				d.LastUpdated = head.MetaData.LastUpdatedTime
			}
			r.Deleted[entity] = append(r.Deleted[entity], d)
			continue
		}
		var err error
		switch entity {
		case EntityCustomer:
			r.Customers, err = appendDecoded(r.Customers, o)
		case EntityItem:
			r.Items, err = appendDecoded(r.Items, o)
		case EntityInvoice:
			r.Invoices, err = appendDecoded(r.Invoices, o)
		case EntityPayment:
			r.Payments, err = appendDecoded(r.Payments, o)
		case EntityAccount:
			r.Accounts, err = appendDecoded(r.Accounts, o)
		default:
			r.Other[entity] = append(r.Other[entity], o)
		}
		if err != nil {
			return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode cdc %s: %w", entity, err))
		}
	}
	return nil
}

func appendDecoded[T any](s []T, raw json.RawMessage) ([]T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return s, err
	}
	return append(s, v), nil
}
