package api

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/hubspot"
	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/mapping"
	"github.com/ledgersync/ledgersync/pkg/qbo"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/services/ingestor"
	"github.com/ledgersync/ledgersync/streams"
)

// The dry run: before the first sync starts, what it would do per object
// and direction, read from both accounts the way the first sync reads
// them and decided by the same rules, with nothing written.

// HubSpotClients gives the API a HubSpot client for a connection.
type HubSpotClients func(c connection.Connection) (*hubspot.Client, error)

// WithHubSpot lets the API read HubSpot (the dry run).
func (s *Service) WithHubSpot(clients HubSpotClients) *Service {
	s.hubspot = clients
	return s
}

// Count is how many records one reason applies to, with a few examples.
type Count struct {
	Reason   string   `json:"reason"`
	Title    string   `json:"title,omitempty"`
	Count    int      `json:"count"`
	Examples []string `json:"examples"`
}

// DryRunResult is one object in one direction.
type DryRunResult struct {
	Object    streams.Object       `json:"object"`
	Direction connection.Direction `json:"direction"`
	Read      int                  `json:"read"`
	More      bool                 `json:"more"` // the source has more than was read
	ToCreate  Count                `json:"to_create"`
	Matched   Count                `json:"matched"` // existing records on the other side: updated
	Excluded  []Count              `json:"excluded"`
	WillFail  []Count              `json:"will_fail"`
	Error     string               `json:"error,omitempty"`
}

// dryRunSample bounds the records previewed per object and direction;
// dryRunMatchSample the records read per side to match them against.
const (
	dryRunSample      = 1000
	dryRunMatchSample = 5 * dryRunSample
)

func addTo(list []Count, reason, title, example string) []Count {
	for i := range list {
		if list[i].Reason == reason {
			list[i].Count++
			if len(list[i].Examples) < 3 {
				list[i].Examples = append(list[i].Examples, example)
			}
			return list
		}
	}
	return append(list, Count{Reason: reason, Title: title, Count: 1, Examples: []string{example}})
}

func (c *Count) add(example string) {
	c.Count++
	if len(c.Examples) < 3 {
		c.Examples = append(c.Examples, example)
	}
}

func (s *Service) dryRun(ctx context.Context, c connection.Connection) ([]DryRunResult, error) {
	hs, err := s.hubspot(c)
	if err != nil {
		return nil, err
	}
	qc, err := s.qbo(c)
	if err != nil {
		return nil, err
	}
	var out []DryRunResult
	for _, o := range streams.Objects {
		settings := c.Object(o)
		if !settings.Enabled {
			continue
		}
		// Each side is read once per object: as the source of one
		// direction and as what the other direction matches against.
		sides := map[streams.System]sideSample{}
		sample := func(sys streams.System) sideSample {
			if sm, ok := sides[sys]; ok {
				return sm
			}
			recs, more, err := ingestor.Sample(ctx, hs, qc, c, o, sys, dryRunMatchSample)
			sides[sys] = sideSample{recs, more, err}
			return sides[sys]
		}
		for _, source := range []streams.System{streams.SystemHubSpot, streams.SystemQBO} {
			if !settings.Direction.Moves(source) {
				continue
			}
			out = append(out, dryRunOne(c, o, source, sample(source), sample(links.Other(source))))
		}
	}
	return out, nil
}

// sideSample is what was read of one object on one side.
type sideSample struct {
	recs []ingestor.Sampled
	more bool
	err  error
}

func dryRunOne(c connection.Connection, o streams.Object, source streams.System, src, other sideSample) DryRunResult {
	target, dir := streams.SystemQBO, connection.HubSpotToQBO
	if source == streams.SystemQBO {
		target, dir = streams.SystemHubSpot, connection.QBOToHubSpot
	}
	res := DryRunResult{Object: o, Direction: dir, ToCreate: Count{Reason: "create", Examples: []string{}}, Matched: Count{Reason: "update", Examples: []string{}},
		Excluded: []Count{}, WillFail: []Count{}}
	if src.err != nil {
		res.Error = "could not read " + string(source) + ": " + string(syncerr.CodeOf(src.err))
		return res
	}
	records := src.recs
	res.More = src.more
	if len(records) > dryRunSample {
		records, res.More = records[:dryRunSample], true
	}
	res.Read = len(records)
	// What the other side holds already, by match key, and (for customers)
	// the display names QBO has taken.
	existing, names := map[string]bool{}, map[string]bool{}
	if other.err == nil {
		for _, x := range other.recs {
			if tr, err := mapping.Record(c.Object(o), o, source, x.Rec); err == nil && tr.MatchKey != "" {
				existing[tr.MatchKey] = true
			}
			if n := x.Rec.Fields["DisplayName"]; n != "" {
				names[strings.ToLower(n)] = true
			}
		}
	}
	for _, x := range records {
		label := string(source) + ":" + x.ID
		r, err := mapping.Transform(c, o, source, x.Rec)
		switch {
		case err != nil:
			code := syncerr.CodeOf(err)
			res.WillFail = addTo(res.WillFail, string(code), syncerr.CategoryOf(code).Title, label+": "+err.Error())
		case r.Excluded != "":
			res.Excluded = addTo(res.Excluded, r.Excluded, "", label)
		case r.Out.MatchKey != "" && existing[r.Out.MatchKey]:
			res.Matched.add(label)
		default:
			if name := strings.ToLower(r.Out.Fields["DisplayName"]); o == streams.ObjectContact && target == streams.SystemQBO && name != "" {
				if names[name] {
					res.WillFail = addTo(res.WillFail, string(qbo.CodeDuplicateName), syncerr.CategoryOf(qbo.CodeDuplicateName).Title,
						label+": "+r.Out.Fields["DisplayName"])
					continue
				}
				names[name] = true
			}
			res.ToCreate.add(label)
		}
	}
	sort.Slice(res.Excluded, func(i, j int) bool { return res.Excluded[i].Count > res.Excluded[j].Count })
	return res
}

// dryRunHandler answers the dry run of a connection.
func (s *Service) dryRunHandler(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	if s.qbo == nil || s.hubspot == nil {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "this api process cannot reach the accounts")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	results, err := s.dryRun(ctx, c)
	if err != nil {
		writeError(w, http.StatusConflict, "NOT_CONNECTED", "connect both accounts first: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"connection": c.ID, "sample": strconv.Itoa(dryRunSample) + " records per object and side", "results": results})
}
