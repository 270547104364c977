package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// MaxBatchInputs is HubSpot's limit of inputs per batch call; batch methods
// split longer input lists into chunks of this size.
const MaxBatchInputs = 100

// BatchItemError is one entry of errors[] in a 207 batch answer.
type BatchItemError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context,omitempty"`
	Errors   []ErrorDetail       `json:"errors,omitempty"`
}

func (e *BatchItemError) Error() string {
	msg := "hubspot: batch item " + e.Category + ": " + e.Message
	if len(e.Errors) > 0 && !strings.Contains(e.Message, "[{") {
		var parts []string
		for _, d := range e.Errors {
			parts = append(parts, strings.TrimSpace(d.Code+" "+d.In))
		}
		msg += " [" + strings.Join(parts, "; ") + "]"
	}
	return msg
}

func classifyItem(e *BatchItemError) *syncerr.Error {
	switch e.Category {
	case "VALIDATION_ERROR", "INVALID_PARAMS":
		return syncerr.Permanent(CodeValidation, e)
	case "OBJECT_NOT_FOUND":
		return syncerr.Permanent(CodeNotFound, e)
	case "CONFLICT", "OBJECT_ALREADY_EXISTS":
		return syncerr.Permanent(CodeConflict, e)
	case "RATE_LIMITS", "RATE_LIMIT":
		return syncerr.Transient(CodeRateLimited, e)
	case "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT", "LOCKED":
		return syncerr.Transient(CodeUnavailable, e)
	}
	return syncerr.Permanent(CodeRejected, e)
}

// ItemError is the failure of one batch input.
type ItemError struct {
	// Index is the input's position in the slice passed to the batch call;
	// -1 when HubSpot's answer does not say which input failed.
	Index int
	// ID is the record id (or idProperty value) the error names, if any.
	ID string
	// Err is a *syncerr.Error; its Err is a *BatchItemError for per-item
	// answers, or the whole chunk's error when the call itself failed.
	Err error
}

// BatchResult holds per-item outcomes of a batch call.
type BatchResult struct {
	Results []Object
	Errors  []ItemError
}

type batchResponse struct {
	Status  string           `json:"status"`
	Results []Object         `json:"results"`
	Errors  []BatchItemError `json:"errors"`
}

// stopBatch reports whether a chunk's error ends the whole batch (auth,
// cancelled context, uncoded failure) instead of failing that chunk's inputs.
func stopBatch(ctx context.Context, err error) bool {
	if ctx.Err() != nil || NeedsReconnect(err) {
		return true
	}
	var se *syncerr.Error
	return !errors.As(err, &se)
}

// collect maps a chunk's answer onto input indexes.
func collect(res *BatchResult, resp *batchResponse, traceIdx, idIdx map[string]int) {
	res.Results = append(res.Results, resp.Results...)
	for i := range resp.Errors {
		be := &resp.Errors[i]
		coded := classifyItem(be)
		if traces := be.Context["objectWriteTraceId"]; len(traces) > 0 {
			for _, tr := range traces {
				idx, ok := traceIdx[tr]
				if !ok {
					idx = -1
				}
				res.Errors = append(res.Errors, ItemError{Index: idx, Err: coded})
			}
			continue
		}
		ids := be.Context["ids"]
		if len(ids) == 0 {
			ids = be.Context["id"]
		}
		if len(ids) == 0 {
			res.Errors = append(res.Errors, ItemError{Index: -1, Err: coded})
			continue
		}
		for _, id := range ids {
			idx, ok := idIdx[strings.ToLower(id)]
			if !ok {
				idx = -1
			}
			res.Errors = append(res.Errors, ItemError{Index: idx, ID: id, Err: coded})
		}
	}
}

func chunkFailed(res *BatchResult, from, to int, ids []string, err error) {
	for i := from; i < to; i++ {
		id := ""
		if ids != nil {
			id = ids[i]
		}
		res.Errors = append(res.Errors, ItemError{Index: i, ID: id, Err: err})
	}
}

func batchRoute(op string) string { return "/crm/v3/objects/{type}/batch/" + op }

// BatchReadOptions selects what a batch read returns.
type BatchReadOptions struct {
	Properties []string
	// IDProperty reads by a unique property (e.g. "email").
	IDProperty string
}

// BatchRead reads records by id (or idProperty). Ids that do not exist
// come back as CodeNotFound item errors.
func (c *Client) BatchRead(ctx context.Context, t ObjectType, ids []string, o BatchReadOptions) (*BatchResult, error) {
	res := &BatchResult{}
	for from := 0; from < len(ids); from += MaxBatchInputs {
		to := min(from+MaxBatchInputs, len(ids))
		inputs := make([]map[string]string, 0, to-from)
		idIdx := map[string]int{}
		for i := from; i < to; i++ {
			inputs = append(inputs, map[string]string{"id": ids[i]})
			idIdx[strings.ToLower(ids[i])] = i
		}
		body := map[string]any{"inputs": inputs, "properties": nonNil(o.Properties)}
		if o.IDProperty != "" {
			body["idProperty"] = o.IDProperty
		}
		var resp batchResponse
		_, err := c.do(ctx, request{method: http.MethodPost, object: string(t), route: batchRoute("read"), path: objPath(t) + "/batch/read",
			body: body, idempotent: true}, &resp)
		if err != nil {
			if stopBatch(ctx, err) {
				return res, err
			}
			chunkFailed(res, from, to, ids, err)
			continue
		}
		collect(res, &resp, nil, idIdx)
	}
	return res, nil
}

// BatchCreate creates records. Per-input failures (207) are in Errors with
// the input's index (mapped through objectWriteTraceId, filled in when
// empty). A chunk whose outcome is unknown fails every input of it with
// CodeWriteUnconfirmed.
func (c *Client) BatchCreate(ctx context.Context, t ObjectType, inputs []CreateInput) (*BatchResult, error) {
	res := &BatchResult{}
	for from := 0; from < len(inputs); from += MaxBatchInputs {
		to := min(from+MaxBatchInputs, len(inputs))
		chunk := make([]CreateInput, 0, to-from)
		traceIdx := map[string]int{}
		for i := from; i < to; i++ {
			in := inputs[i]
			if in.TraceID == "" {
				in.TraceID = fmt.Sprintf("ls-%d", i)
			}
			traceIdx[in.TraceID] = i
			chunk = append(chunk, in)
		}
		var resp batchResponse
		_, err := c.do(ctx, request{method: http.MethodPost, object: string(t), route: batchRoute("create"), path: objPath(t) + "/batch/create",
			body: map[string]any{"inputs": chunk}, create: true}, &resp)
		if err != nil {
			if stopBatch(ctx, err) {
				return res, err
			}
			chunkFailed(res, from, to, nil, err)
			continue
		}
		collect(res, &resp, traceIdx, nil)
	}
	return res, nil
}

// UpdateInput is one record to update (or upsert).
type UpdateInput struct {
	ID         string            `json:"id"`
	IDProperty string            `json:"idProperty,omitempty"`
	Properties map[string]string `json:"properties"`
	TraceID    string            `json:"objectWriteTraceId,omitempty"`
}

func (c *Client) batchWrite(ctx context.Context, t ObjectType, op string, inputs []UpdateInput) (*BatchResult, error) {
	res := &BatchResult{}
	for from := 0; from < len(inputs); from += MaxBatchInputs {
		to := min(from+MaxBatchInputs, len(inputs))
		chunk := make([]UpdateInput, 0, to-from)
		traceIdx, idIdx := map[string]int{}, map[string]int{}
		ids := make([]string, len(inputs))
		for i := from; i < to; i++ {
			in := inputs[i]
			if in.TraceID == "" {
				in.TraceID = fmt.Sprintf("ls-%d", i)
			}
			traceIdx[in.TraceID] = i
			idIdx[strings.ToLower(in.ID)] = i
			ids[i] = in.ID
			chunk = append(chunk, in)
		}
		var resp batchResponse
		_, err := c.do(ctx, request{method: http.MethodPost, object: string(t), route: batchRoute(op), path: objPath(t) + "/batch/" + op,
			body: map[string]any{"inputs": chunk}, idempotent: true}, &resp)
		if err != nil {
			if stopBatch(ctx, err) {
				return res, err
			}
			chunkFailed(res, from, to, ids, err)
			continue
		}
		collect(res, &resp, traceIdx, idIdx)
	}
	return res, nil
}

// BatchUpdate updates records by id (or each input's IDProperty). Unknown
// ids are CodeNotFound item errors.
func (c *Client) BatchUpdate(ctx context.Context, t ObjectType, inputs []UpdateInput) (*BatchResult, error) {
	return c.batchWrite(ctx, t, "update", inputs)
}

// BatchUpsert updates or creates records by a unique property: every
// input needs IDProperty (e.g. "email" or a custom unique property).
// Results carry New.
func (c *Client) BatchUpsert(ctx context.Context, t ObjectType, inputs []UpdateInput) (*BatchResult, error) {
	for i, in := range inputs {
		if in.IDProperty == "" {
			return nil, syncerr.Permanentf(CodeValidation, "hubspot: batch upsert %s: input %d has no idProperty", t, i)
		}
	}
	return c.batchWrite(ctx, t, "upsert", inputs)
}

// BatchArchive archives records by id (unknown ids are ignored).
func (c *Client) BatchArchive(ctx context.Context, t ObjectType, ids []string) error {
	for from := 0; from < len(ids); from += MaxBatchInputs {
		to := min(from+MaxBatchInputs, len(ids))
		inputs := make([]map[string]string, 0, to-from)
		for _, id := range ids[from:to] {
			inputs = append(inputs, map[string]string{"id": id})
		}
		if _, err := c.do(ctx, request{method: http.MethodPost, object: string(t), route: batchRoute("archive"), path: objPath(t) + "/batch/archive",
			body: map[string]any{"inputs": inputs}, idempotent: true}, nil); err != nil {
			return err
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
