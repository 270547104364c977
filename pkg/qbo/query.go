package qbo

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// MaxQueryResults is QBO's largest MAXRESULTS.
const MaxQueryResults = 1000

// QueryResponse is the answer of a query statement.
type QueryResponse struct {
	StartPosition int
	// MaxResults is the number of objects actually returned.
	MaxResults int
	// TotalCount is set by SELECT COUNT(*) only.
	TotalCount int
	// Rows holds the objects per entity name, undecoded.
	Rows map[string]json.RawMessage
}

// Decode decodes the rows of entity into v (a pointer to a slice). No rows
// leave v untouched.
func (q *QueryResponse) Decode(entity string, v any) error {
	raw, ok := q.Rows[entity]
	if !ok {
		// QBO answers with its own spelling ("Customer" for "customer").
		for k, v := range q.Rows {
			if strings.EqualFold(k, entity) {
				raw, ok = v, true
				break
			}
		}
		if !ok {
			return nil
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode %s rows: %w", entity, err))
	}
	return nil
}

func parseQueryResponse(raw json.RawMessage) (*QueryResponse, error) {
	var m map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode QueryResponse: %w", err))
		}
	}
	q := &QueryResponse{Rows: map[string]json.RawMessage{}}
	for k, v := range m {
		var dst *int
		switch k {
		case "startPosition":
			dst = &q.StartPosition
		case "maxResults":
			dst = &q.MaxResults
		case "totalCount":
			dst = &q.TotalCount
		default:
			q.Rows[k] = v
			continue
		}
		_ = json.Unmarshal(v, dst)
	}
	return q, nil
}

// Query runs one statement (QBO's SQL subset). The statement goes in the
// body of POST /query (Content-Type application/text), so long IN lists
// fit; it is never logged, since it may hold names or emails.
func (c *Client) Query(ctx context.Context, statement string) (*QueryResponse, error) {
	body, err := c.do(ctx, request{method: http.MethodPost, entity: "query", body: []byte(statement), ctype: "application/text"})
	if err != nil {
		return nil, err
	}
	var env struct {
		QueryResponse json.RawMessage `json:"QueryResponse"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, syncerr.Permanent(syncerr.CodeBadMessage, fmt.Errorf("qbo: decode query answer: %w", err))
	}
	return parseQueryResponse(env.QueryResponse)
}

// Count runs SELECT COUNT(*) FROM entity [WHERE where].
func (c *Client) Count(ctx context.Context, entity, where string) (int, error) {
	stmt := "SELECT COUNT(*) FROM " + entity
	if strings.TrimSpace(where) != "" {
		stmt += " WHERE " + where
	}
	q, err := c.Query(ctx, stmt)
	if err != nil {
		return 0, err
	}
	return q.TotalCount, nil
}

// Select describes a paged SELECT * query.
type Select struct {
	// Entity is the entity name ("Customer").
	Entity string
	// Where is the condition without the WHERE keyword (optional). Build
	// values with Quote / QuoteTime. Inactive name-list objects are left out
	// unless it mentions Active (e.g. "Active IN (true, false)").
	Where string
	// OrderBy is the ORDERBY clause without the keyword (optional).
	OrderBy string
	// PageSize is MAXRESULTS per page (default and maximum 1000).
	PageSize int
}

func (s Select) statement(start, size int) string {
	var sb strings.Builder
	sb.WriteString("SELECT * FROM ")
	sb.WriteString(s.Entity)
	if strings.TrimSpace(s.Where) != "" {
		sb.WriteString(" WHERE ")
		sb.WriteString(s.Where)
	}
	if strings.TrimSpace(s.OrderBy) != "" {
		sb.WriteString(" ORDERBY ")
		sb.WriteString(s.OrderBy)
	}
	sb.WriteString(" STARTPOSITION ")
	sb.WriteString(strconv.Itoa(start))
	sb.WriteString(" MAXRESULTS ")
	sb.WriteString(strconv.Itoa(size))
	return sb.String()
}

// Each pages through every row of s (STARTPOSITION/MAXRESULTS, while a page
// comes back full) and calls fn for each, decoded as T. fn returning an
// error stops the walk with that error.
func Each[T any](ctx context.Context, c *Client, s Select, fn func(T) error) error {
	size := s.PageSize
	if size <= 0 || size > MaxQueryResults {
		size = MaxQueryResults
	}
	for start := 1; ; start += size {
		q, err := c.Query(ctx, s.statement(start, size))
		if err != nil {
			return err
		}
		var rows []T
		if err := q.Decode(s.Entity, &rows); err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(rows) < size {
			return nil
		}
	}
}

// Rows is Each as an iterator: for row, err := range qbo.Rows[qbo.Customer](ctx, c, sel).
// After an error the iteration ends.
func Rows[T any](ctx context.Context, c *Client, s Select) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		stop := fmt.Errorf("stop")
		err := Each(ctx, c, s, func(v T) error {
			if !yield(v, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			var zero T
			yield(zero, err)
		}
	}
}

// All collects every row of s.
func All[T any](ctx context.Context, c *Client, s Select) ([]T, error) {
	var out []T
	err := Each(ctx, c, s, func(v T) error { out = append(out, v); return nil })
	return out, err
}

// Quote renders s as a query string literal: single quotes, with
// backslash-escaped quotes and backslashes.
func Quote(s string) string {
	return "'" + quoteEscapes.Replace(s) + "'"
}

// quoteEscapes is built once: a Replacer builds its tables on first use.
var quoteEscapes = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// QuoteTime renders t as a quoted date-time literal with an offset.
func QuoteTime(t time.Time) string { return "'" + t.Format(time.RFC3339) + "'" }
