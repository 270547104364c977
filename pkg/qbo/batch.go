package qbo

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// BatchOp is one operation of a batch call. Build it with BatchCreate,
// BatchUpdate, BatchDelete, BatchVoid or BatchQuery.
type BatchOp struct {
	// BID identifies the operation in the answer; empty means its position
	// ("1", "2", ...).
	BID       string
	operation string
	options   string
	entity    string
	object    any
	query     string
	err       error
}

// WithBID returns op with its batch id set.
func (op BatchOp) WithBID(id string) BatchOp { op.BID = id; return op }

// BatchCreate creates v.
func BatchCreate(v Entity) BatchOp {
	m, err := writeBody(v, false)
	return BatchOp{operation: "create", entity: v.EntityName(), object: m, err: err}
}

// BatchUpdate sparse-updates v (Id and SyncToken required).
func BatchUpdate(v Entity) BatchOp {
	m, err := writeBody(v, true)
	if err == nil && (len(m["Id"]) == 0 || len(m["SyncToken"]) == 0) {
		err = syncerr.Permanentf(CodeValidation, "qbo: batch update %s: Id and SyncToken are required", v.EntityName())
	}
	return BatchOp{operation: "update", entity: v.EntityName(), object: m, err: err}
}

// BatchDelete deletes the transaction entity (Invoice, Payment) id.
func BatchDelete(entity, id, syncToken string) BatchOp {
	return BatchOp{operation: "delete", entity: entity, object: map[string]string{"Id": id, "SyncToken": syncToken}}
}

// BatchVoid voids the transaction entity id.
func BatchVoid(entity, id, syncToken string) BatchOp {
	return BatchOp{operation: "update", options: "void", entity: entity,
		object: map[string]any{"Id": id, "SyncToken": syncToken, "sparse": true}}
}

// BatchQuery runs a query statement.
func BatchQuery(statement string) BatchOp { return BatchOp{query: statement} }

// BatchResult is the answer to one BatchOp.
type BatchResult struct {
	BID string
	// Entity is the entity name of the answer object ("" for queries and faults).
	Entity string
	// Object is the entity as QBO returned it.
	Object json.RawMessage
	// Query is set for query operations.
	Query *QueryResponse
	// Err is the item's fault as a coded *syncerr.Error (nil on success).
	Err error
}

// Decode decodes Object into v (e.g. a *Customer).
func (r *BatchResult) Decode(v any) error {
	if r.Err != nil {
		return r.Err
	}
	if len(r.Object) == 0 {
		return syncerr.Permanentf(syncerr.CodeBadMessage, "qbo: batch item %s has no object", r.BID)
	}
	if err := json.Unmarshal(r.Object, v); err != nil {
		return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode batch item %s: %w", r.BID, err))
	}
	return nil
}

// Batch runs up to 30 independent operations in one call (its own budget
// of 40 calls per minute per realm). Results come back in the order of ops;
// one item's fault does not stop the others and is reported in its Err.
// The returned error is for the call as a whole. The call carries a
// requestid, so a retry does not run the operations twice.
func (c *Client) Batch(ctx context.Context, ops []BatchOp, opts ...CallOption) ([]BatchResult, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	if len(ops) > MaxBatchItems {
		return nil, syncerr.Permanentf(CodeValidation, "qbo: batch of %d operations: at most %d per call", len(ops), MaxBatchItems)
	}
	items := make([]map[string]any, len(ops))
	index := make(map[string]int, len(ops))
	for i, op := range ops {
		if op.err != nil {
			return nil, op.err
		}
		bid := op.BID
		if bid == "" {
			bid = strconv.Itoa(i + 1)
		}
		if _, dup := index[bid]; dup {
			return nil, syncerr.Permanentf(CodeValidation, "qbo: batch: bId %q used twice", bid)
		}
		index[bid] = i
		item := map[string]any{"bId": bid}
		if op.query != "" || op.entity == "" {
			item["Query"] = op.query
		} else {
			item["operation"] = op.operation
			item[op.entity] = op.object
			if op.options != "" {
				item["optionsData"] = op.options
			}
		}
		items[i] = item
	}
	b, err := json.Marshal(map[string]any{"BatchItemRequest": items})
	if err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: encode batch: %w", err))
	}
	body, err := c.write(ctx, "batch", nil, b, opts)
	if err != nil {
		return nil, err
	}
	var env struct {
		BatchItemResponse []map[string]json.RawMessage `json:"BatchItemResponse"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode batch answer: %w", err))
	}
	out := make([]BatchResult, len(ops))
	seen := make([]bool, len(ops))
	for _, resp := range env.BatchItemResponse {
		var bid string
		_ = json.Unmarshal(resp["bId"], &bid)
		i, ok := index[bid]
		if !ok || seen[i] {
			continue
		}
		seen[i] = true
		r := BatchResult{BID: bid}
		for k, raw := range resp {
			switch k {
			case "bId":
			case "Fault":
				f := parseFault([]byte(`{"Fault":` + string(raw) + `}`))
				if f == nil {
					f = &Fault{Type: "Fault"}
				}
				f.Op, f.HTTPStatus = "batch item "+bid, http.StatusBadRequest
				r.Err = classify(f, 0)
			case "QueryResponse":
				q, err := parseQueryResponse(raw)
				if err != nil {
					r.Err = err
				}
				r.Query = q
			default:
				r.Entity, r.Object = k, raw
			}
		}
		out[i] = r
	}
	for i, ok := range seen {
		if !ok {
			bid := ops[i].BID
			if bid == "" {
				bid = strconv.Itoa(i + 1)
			}
			out[i] = BatchResult{BID: bid, Err: syncerr.Transient(CodeUnavailable,
				fmt.Errorf("qbo: batch item %s: no answer in the batch response", bid))}
		}
	}
	return out, nil
}
