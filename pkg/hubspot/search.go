package hubspot

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

const (
	// searchResultCap is HubSpot's hard cap: no page may start at or
	// beyond 10,000 results of one query.
	searchResultCap = 10000
	// MaxSearchLimit is the largest search page.
	MaxSearchLimit = 200
)

// Search operators.
const (
	OpEQ             = "EQ"
	OpNEQ            = "NEQ"
	OpLT             = "LT"
	OpLTE            = "LTE"
	OpGT             = "GT"
	OpGTE            = "GTE"
	OpBetween        = "BETWEEN"
	OpIn             = "IN"
	OpNotIn          = "NOT_IN"
	OpHasProperty    = "HAS_PROPERTY"
	OpNotHasProperty = "NOT_HAS_PROPERTY"
	OpContainsToken  = "CONTAINS_TOKEN"
)

// Filter is one search condition. For IN/NOT_IN on string properties,
// HubSpot wants lowercase values.
type Filter struct {
	PropertyName string   `json:"propertyName"`
	Operator     string   `json:"operator"`
	Value        string   `json:"value,omitempty"`
	HighValue    string   `json:"highValue,omitempty"`
	Values       []string `json:"values,omitempty"`
}

// FilterGroup ANDs its filters; groups are ORed.
type FilterGroup struct {
	Filters []Filter `json:"filters"`
}

// Sort orders search results (HubSpot honours one).
type Sort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"` // ASCENDING or DESCENDING
}

// SearchRequest is the body of POST …/search.
type SearchRequest struct {
	FilterGroups []FilterGroup `json:"filterGroups"`
	Sorts        []Sort        `json:"sorts,omitempty"`
	Query        string        `json:"query,omitempty"`
	Properties   []string      `json:"properties,omitempty"`
	Limit        int           `json:"limit,omitempty"` // 1..200 (default 100 here)
	After        string        `json:"after,omitempty"`
}

// SearchPage is one page of search results; After is empty on the last
// page (or when the next page would pass the 10,000-result cap).
type SearchPage struct {
	Total   int
	Results []Object
	After   string
}

// Search runs one search page. Search has its own rate limit (5/s) and
// newly written records show up after a short indexing delay; results
// never include associations or archived records.
func (c *Client) Search(ctx context.Context, t ObjectType, req SearchRequest) (*SearchPage, error) {
	if len(req.Sorts) > 1 {
		return nil, syncerr.Permanentf(CodeValidation, "hubspot: search %s: HubSpot honours one sort, got %d", t, len(req.Sorts))
	}
	if req.Limit <= 0 {
		req.Limit = 100
	}
	if req.Limit > MaxSearchLimit {
		return nil, syncerr.Permanentf(CodeValidation, "hubspot: search %s: limit %d is above %d", t, req.Limit, MaxSearchLimit)
	}
	if n, _ := strconv.Atoi(req.After); n+req.Limit > c.searchCap {
		req.Limit = max(c.searchCap-n, 1) // never page past the cap
	}
	if req.FilterGroups == nil {
		req.FilterGroups = []FilterGroup{}
	}
	var out struct {
		Total   int         `json:"total"`
		Results []Object    `json:"results"`
		Paging  *pagingJSON `json:"paging"`
	}
	_, err := c.do(ctx, request{method: http.MethodPost, object: string(t), route: "/crm/v3/objects/{type}/search", path: objPath(t) + "/search",
		body: req, idempotent: true, search: true}, &out)
	if err != nil {
		return nil, err
	}
	p := &SearchPage{Total: out.Total, Results: out.Results, After: out.Paging.after()}
	if n, err := strconv.Atoi(p.After); err == nil && n >= c.searchCap {
		p.After = ""
	}
	return p, nil
}

// SearchAll pages through a search (up to the 10,000-result cap), calling
// fn for every page.
func (c *Client) SearchAll(ctx context.Context, t ObjectType, req SearchRequest, fn func([]Object) error) error {
	for {
		p, err := c.Search(ctx, t, req)
		if err != nil {
			return err
		}
		if err := fn(p.Results); err != nil {
			return err
		}
		if p.After == "" {
			return nil
		}
		req.After = p.After
	}
}

// Cursor is a position in the last-modified order: every record with
// (last-modified time, numeric id) up to and including (Time, ID) has been
// seen. The zero ID means "nothing at Time seen yet".
type Cursor struct {
	Time time.Time
	ID   string
}

// before reports whether (t, id) sorts at or before the cursor.
func (cur Cursor) covers(t time.Time, id string) bool {
	if t.Before(cur.Time) {
		return true
	}
	if t.After(cur.Time) {
		return false
	}
	return cur.ID != "" && compareIDs(id, cur.ID) <= 0
}

// compareIDs orders numeric string ids.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func msString(t time.Time) string {
	if t.IsZero() || t.UnixMilli() < 0 {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// ScanModifiedSince calls fn for every record of type t modified after
// since, in (last-modified, id) order, and returns the cursor of the last
// record handed to fn (since when none). It searches by the type's
// last-modified property ascending and, before the 10,000-result cap,
// restarts with the lower bound moved to the last time seen; records
// already seen at that time are skipped by id. When more records than the
// cap share one millisecond it walks them by id. Records become visible
// to search after an indexing delay, so pollers should not scan up to
// "now" without overlap. If fn fails, the returned cursor still names the
// last record fn accepted.
func (c *Client) ScanModifiedSince(ctx context.Context, t ObjectType, since Cursor, properties []string, fn func(Object) error) (Cursor, error) {
	prop := t.LastModifiedProperty()
	props := append([]string{prop}, properties...)
	cur := since
	lower := since.Time
	for {
		req := SearchRequest{
			FilterGroups: []FilterGroup{{Filters: []Filter{{PropertyName: prop, Operator: OpGTE, Value: msString(lower)}}}},
			Sorts:        []Sort{{PropertyName: prop, Direction: "ASCENDING"}},
			Properties:   props, Limit: MaxSearchLimit,
		}
		capped, err := c.scanPages(ctx, t, req, prop, &cur, fn)
		if err != nil || !capped {
			return cur, err
		}
		if !cur.Time.After(lower) {
			// a whole window at one millisecond: walk it by id, then go on
			if cur, err = c.scanSameTime(ctx, t, cur, props, fn); err != nil {
				return cur, err
			}
			lower = cur.Time.Add(time.Millisecond)
			continue
		}
		lower = cur.Time
	}
}

// scanPages pages one query and reports whether it stopped at the cap.
func (c *Client) scanPages(ctx context.Context, t ObjectType, req SearchRequest, prop string, cur *Cursor, fn func(Object) error) (bool, error) {
	for {
		p, err := c.Search(ctx, t, req)
		if err != nil {
			return false, err
		}
		for _, o := range p.Results {
			ts, ok := o.Time(prop)
			if !ok {
				ts = o.UpdatedAt
			}
			if cur.covers(ts, o.ID) {
				continue
			}
			if err := fn(o); err != nil {
				return false, err
			}
			if ts.After(cur.Time) || compareIDs(o.ID, cur.ID) > 0 {
				*cur = Cursor{Time: ts, ID: o.ID}
			}
		}
		if p.After == "" {
			after, _ := strconv.Atoi(req.After)
			return after+len(p.Results) >= c.searchCap && len(p.Results) > 0 && p.Total > after+len(p.Results), nil
		}
		req.After = p.After
	}
}

// scanSameTime walks the records last modified exactly at cur.Time by
// ascending id, past cur.ID.
func (c *Client) scanSameTime(ctx context.Context, t ObjectType, cur Cursor, props []string, fn func(Object) error) (Cursor, error) {
	prop := t.LastModifiedProperty()
	for {
		filters := []Filter{{PropertyName: prop, Operator: OpEQ, Value: msString(cur.Time)}}
		if cur.ID != "" {
			filters = append(filters, Filter{PropertyName: "hs_object_id", Operator: OpGT, Value: cur.ID})
		}
		req := SearchRequest{FilterGroups: []FilterGroup{{Filters: filters}},
			Sorts: []Sort{{PropertyName: "hs_object_id", Direction: "ASCENDING"}}, Properties: props, Limit: MaxSearchLimit}
		before := cur
		capped, err := c.scanPages(ctx, t, req, prop, &cur, fn)
		if err != nil || !capped {
			return cur, err
		}
		if cur == before {
			return cur, syncerr.Permanentf(syncerr.CodeInternal, "hubspot: scan %s: no progress at %s", t, FormatTime(cur.Time))
		}
	}
}
