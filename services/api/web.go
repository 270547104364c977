package api

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/progress"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// The web app: server-rendered pages on the same data as the JSON API,
// with its assets embedded (these machines and many deployments are
// offline, so nothing comes from a CDN).

//go:embed ui
var uiFiles embed.FS

var pages = map[string]*template.Template{}

func init() {
	for _, p := range []string{"login", "connections", "connection", "records", "record", "export", "setup", "dryrun"} {
		pages[p] = template.Must(template.New("").ParseFS(uiFiles, "ui/layout.html", "ui/"+p+".html"))
	}
}

// page is what every template gets.
type page struct {
	Title   string
	Me      principal
	Refresh int // seconds; 0: the page does not reload itself
}

// webRoutes registers the pages.
func (s *Service) webRoutes(mux *http.ServeMux) {
	viewer := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.secured(s.pageGuard(auth.RoleViewer, h)))
	}
	mux.Handle("GET /{$}", http.RedirectHandler("/app", http.StatusSeeOther))
	mux.Handle("GET /login", s.secured(http.HandlerFunc(s.loginPage)))
	mux.Handle("POST /login", s.secured(http.HandlerFunc(s.loginForm)))
	mux.Handle("POST /logout", s.secured(s.guard(auth.RoleViewer, s.logoutForm)))
	mux.Handle("GET /static/app.css", s.secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		b, _ := uiFiles.ReadFile("ui/app.css")
		_, _ = w.Write(b)
	})))
	mux.Handle("GET /static/progress.js", s.secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		b, _ := uiFiles.ReadFile("ui/progress.js")
		_, _ = w.Write(b)
	})))
	viewer("GET /app", s.connectionsPage)
	viewer("GET /app/connections/{id}", s.connectionPage)
	viewer("GET /app/connections/{id}/records", s.recordsPage)
	viewer("GET /app/connections/{id}/records/{object}/{key}", s.recordPage)
	viewer("POST /app/connections/{id}/exports", s.exportForm)
	integrator := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.secured(s.pageGuard(auth.RoleIntegrationAdmin, h)))
	}
	integrator("POST /app/connections", s.newConnectionForm)
	viewer("GET /app/connections/{id}/setup", s.setupPage)
	viewer("GET /app/connections/{id}/dry-run", s.dryRunPage)
	integrator("POST /app/connections/{id}/setup", s.setupForm)
	integrator("POST /app/connections/{id}/connect/{system}", s.connectForm)
	integrator("POST /app/connections/{id}/hubspot-token", s.privateAppForm)
	viewer("GET /app/connections/{id}/exports/{export}", s.exportPage)
}

// newConnectionForm creates a connection with the recommended settings in
// the user's workspace and opens it.
func (s *Service) newConnectionForm(w http.ResponseWriter, r *http.Request) {
	c := NewConnection("", strings.TrimSpace(r.PostFormValue("name")), s.now())
	if p := principalOf(r.Context()); p.Workspace != "" {
		c.Workspace = p.Workspace
	}
	if c.Name == "" {
		http.Error(w, "name the connection", http.StatusBadRequest)
		return
	}
	if err := c.Validate(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	created, err := s.conns.Create(r.Context(), c)
	if err != nil {
		http.Error(w, "the connection could not be created: "+err.Error(), http.StatusConflict)
		return
	}
	http.Redirect(w, r, "/app/connections/"+created.ID, http.StatusSeeOther)
}

// connectForm sends the browser to Intuit's or HubSpot's consent page.
func (s *Service) connectForm(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	system := r.PathValue("system")
	oc, err := s.oauthConfig(system)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, oc.AuthCodeURL(s.signState(c.ID, system, s.now().Add(15*time.Minute))), http.StatusSeeOther)
}

// privateAppForm connects HubSpot with a private-app token from the form.
func (s *Service) privateAppForm(w http.ResponseWriter, r *http.Request) {
	body := fmt.Sprintf(`{"token":%q,"portal_id":%q}`, r.PostFormValue("token"), r.PostFormValue("portal_id"))
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(body))
	r2.Header.Set("Content-Type", "application/json")
	rec := &statusRecorder{ResponseWriter: w}
	s.putPrivateAppToken(rec, r2)
	if rec.status/100 == 2 {
		http.Redirect(w, r, "/app/connections/"+r.PathValue("id"), http.StatusSeeOther)
	}
}

// statusRecorder lets a form handler reuse a JSON handler: an error is
// written as the JSON answer, a success is turned into a redirect.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	if code/100 != 2 {
		s.ResponseWriter.WriteHeader(code)
	}
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if s.status/100 == 2 {
		return len(b), nil
	}
	return s.ResponseWriter.Write(b)
}

// exportForm starts an export of the filtered record view and shows its page.
func (s *Service) exportForm(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	f, err := recordFilter(c.ID, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	job, err := s.startExport(r.Context(), c.ID, r.PostFormValue("format"), f, principalOf(r.Context()).UserID)
	if err != nil {
		http.Error(w, "the export could not be started: "+err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, "/app/connections/"+c.ID+"/exports/"+job.ID, http.StatusSeeOther)
}

// exportPage shows an export's progress, reloading until it is ready.
func (s *Service) exportPage(w http.ResponseWriter, r *http.Request) {
	job, ok := s.exportOf(w, r)
	if !ok {
		return
	}
	c, _ := s.connectionOf(w, r)
	data := struct {
		page
		Conn connection.Connection
		Job  ExportJob
	}{page{Title: "Export", Me: principalOf(r.Context())}, c, job}
	if job.State == "running" {
		data.Refresh = 2
	}
	s.render(w, http.StatusOK, "export", data)
}

// secured adds the headers every page carries: no framing, no inline
// scripts or styles, no sniffing, no referrer outside the app. Forms post
// to the app only, and from there to the OAuth consent pages (a form's
// redirect is checked against form-action too).
func (s *Service) secured(next http.Handler) http.Handler {
	formAction := "'self'"
	for _, u := range []string{s.cfg.QBO.AuthURL, s.cfg.HubSpot.AuthURL} {
		if pu, err := url.Parse(u); err == nil && pu.Host != "" {
			formAction += " " + pu.Scheme + "://" + pu.Host
		}
	}
	csp := "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action " + formAction + "; base-uri 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// pageGuard is guard for pages: a browser that is not signed in is sent
// to the sign-in page and comes back afterwards.
func (s *Service) pageGuard(need auth.Role, next http.HandlerFunc) http.Handler {
	guarded := s.guard(need, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.authenticate(r); err != nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

func (s *Service) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages[name].ExecuteTemplate(w, "layout", data); err != nil {
		s.logger.Error("render page", "page", name, "err", err)
	}
}

type loginPageData struct {
	page
	Error, Email string
}

func (s *Service) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "login", loginPageData{page: page{Title: "Sign in"}})
}

// loginForm signs in from the form and goes back where the user was going.
func (s *Service) loginForm(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	if s.users == nil {
		http.Error(w, "sign-in is not enabled on this process", http.StatusNotFound)
		return
	}
	_, status, msg := s.signIn(w, r, email, r.PostFormValue("password"))
	if status != http.StatusOK {
		s.render(w, status, "login", loginPageData{page: page{Title: "Sign in"}, Error: msg, Email: email})
		return
	}
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/app") || strings.HasPrefix(next, "//") {
		next = "/app" // only back into the app: no open redirect
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Service) logoutForm(w http.ResponseWriter, r *http.Request) {
	s.logout(discardWriter{w}, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// discardWriter swallows what logout writes (its 204), so the form can redirect.
type discardWriter struct{ http.ResponseWriter }

func (d discardWriter) WriteHeader(int)             {}
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// connectionRow is one line of the connections page.
type connectionRow struct {
	ID, Name, Portal, Realm string
	HubSpot, QBO            string
}

func (s *Service) connectionsPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	list, err := s.conns.List(r.Context())
	if err != nil {
		http.Error(w, "the connection store failed; see the server log", http.StatusServiceUnavailable)
		return
	}
	var rows []connectionRow
	for _, c := range list {
		if !p.sees(c) {
			continue
		}
		row := connectionRow{ID: c.ID, Name: c.Name, Portal: c.HubSpot.PortalID, Realm: c.QBO.RealmID, HubSpot: "not_connected", QBO: "not_connected"}
		if rec, _, err := s.tokens.Get(r.Context(), c.ID, streams.SystemHubSpot); err == nil {
			row.HubSpot = string(rec.Status)
		}
		if rec, _, err := s.tokens.Get(r.Context(), c.ID, streams.SystemQBO); err == nil {
			row.QBO = string(rec.Status)
		}
		rows = append(rows, row)
	}
	s.render(w, http.StatusOK, "connections", struct {
		page
		Connections []connectionRow
		CanEdit     bool
	}{page{Title: "Connections", Me: p}, rows, p.Role.Allows(auth.RoleIntegrationAdmin) && p.CSRF != ""})
}

// column is a choosable column of the object view (P20).
type column struct {
	Name, Label, Status string
	On                  bool
}

// objectRow is one object's counts by column name.
type objectRow struct {
	Object string
	Counts map[string]uint64
}

func (s *Service) connectionPage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	cols := []column{{"synced", "Synced", "synced", true}, {"failing", "Failing", "failing", true}, {"excluded", "Excluded", "excluded", true},
		{"pending", "Pending", "pending", false}, {"total", "Total", "", false}}
	if chosen := r.URL.Query()["col"]; len(chosen) > 0 {
		for i := range cols {
			cols[i].On = false
			for _, name := range chosen {
				if name == cols[i].Name {
					cols[i].On = true
				}
			}
		}
	}
	var objects []objectRow
	var chart chartData
	if s.activity != nil {
		counts, err := s.activity.ObjectView(r.Context(), c.ID)
		if err != nil {
			s.storeFailed(w, "object view", err)
			return
		}
		for _, o := range counts {
			objects = append(objects, objectRow{Object: o.Object, Counts: map[string]uint64{"synced": o.Synced, "failing": o.Failing,
				"excluded": o.Excluded, "pending": o.Pending, "total": o.Total}})
		}
		points, err := s.activity.ActivityOverTime(r.Context(), c.ID, s.now().Add(-24*time.Hour), time.Hour)
		if err == nil {
			chart = buildChart(points, s.now().Add(-24*time.Hour).Truncate(time.Hour), time.Hour, 25)
		}
	}
	var backfills []progress.Backfill
	if s.cursors != nil {
		backfills, _ = progress.List(r.Context(), s.cursors, c.ID)
	}
	state := func(sys streams.System) string {
		if rec, _, err := s.tokens.Get(r.Context(), c.ID, sys); err == nil {
			return string(rec.Status)
		}
		return "not_connected"
	}
	me := principalOf(r.Context())
	s.render(w, http.StatusOK, "connection", struct {
		page
		Conn                   connection.Connection
		Warnings               []Warning
		Columns                []column
		Objects                []objectRow
		Progress               []progress.Backfill
		Chart                  chartData
		CanEdit                bool
		QBOState, HubSpotState string
	}{page{Title: c.ID, Me: me}, c, s.checkQuick(r.Context(), c), cols, objects, backfills, chart,
		me.Role.Allows(auth.RoleIntegrationAdmin) && me.CSRF != "", state(streams.SystemQBO), state(streams.SystemHubSpot)})
}

// checkQuick is check with a short deadline: a page never waits long on QBO.
func (s *Service) checkQuick(ctx context.Context, c connection.Connection) []Warning {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return s.check(ctx, c)
}

// chartData is a stacked bar chart drawn as SVG on the server.
type chartData struct {
	Width  int
	Bars   []chartBar
	Legend []string
}

type chartBar struct {
	X, Y, W, H     int
	Outcome, Label string
}

func buildChart(points []activity.ActivityPoint, start time.Time, step time.Duration, slots int) chartData {
	const height, slotW = 110, 28
	totals := make([]uint64, slots)
	var max uint64
	for _, p := range points {
		if i := int(p.Start.Sub(start) / step); i >= 0 && i < slots {
			totals[i] += p.Events
			if totals[i] > max {
				max = totals[i]
			}
		}
	}
	out := chartData{Width: slots * slotW}
	if max == 0 {
		return out
	}
	used := make([]int, slots)
	seen := map[string]bool{}
	for _, p := range points {
		i := int(p.Start.Sub(start) / step)
		if i < 0 || i >= slots {
			continue
		}
		h := int(p.Events * height / max)
		if h == 0 {
			h = 1
		}
		used[i] += h
		out.Bars = append(out.Bars, chartBar{X: i*slotW + 2, Y: 115 - used[i], W: slotW - 4, H: h, Outcome: p.Outcome,
			Label: fmt.Sprintf("%s: %d %s", p.Start.Format("15:04"), p.Events, p.Outcome)})
		seen[p.Outcome] = true
	}
	for o := range seen {
		out.Legend = append(out.Legend, o)
	}
	sort.Strings(out.Legend)
	return out
}

func (s *Service) recordsPage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	data := struct {
		page
		Conn             connection.Connection
		Filter           activity.RecordFilter
		Objects          []streams.Object
		Statuses         []string
		Records          []recordRow
		Total            uint64
		First, Last      int
		PrevURL, NextURL string
		Query            string // the filter, for the export form
		Error            string
	}{page: page{Title: "Records · " + c.ID, Me: principalOf(r.Context())}, Conn: c, Objects: streams.Objects,
		Statuses: []string{activity.StatusSynced, activity.StatusFailing, activity.StatusExcluded, activity.StatusPending}}
	f, err := recordFilter(c.ID, r)
	data.Filter = f
	q := r.URL.Query()
	q.Del("offset")
	q.Del("limit")
	data.Query = q.Encode()
	status := http.StatusOK
	switch {
	case err != nil:
		data.Error, status = err.Error(), http.StatusBadRequest
	case s.activity == nil:
		data.Error, status = "this process has no activity store", http.StatusServiceUnavailable
	default:
		rows, total, err := s.activity.Records(r.Context(), f)
		if err != nil {
			s.storeFailed(w, "record view", err)
			return
		}
		data.Total = total
		for _, row := range rows {
			rr := recordRow{RecordRow: row}
			if row.ErrorCode != "" {
				cat := syncerr.CategoryOf(syncerr.Code(row.ErrorCode))
				rr.Category = &cat
			}
			data.Records = append(data.Records, rr)
		}
		if len(rows) > 0 {
			data.First, data.Last = f.Offset+1, f.Offset+len(rows)
		}
		pageURL := func(offset int) string {
			q := r.URL.Query()
			q.Set("offset", strconv.Itoa(offset))
			return r.URL.Path + "?" + q.Encode()
		}
		if f.Offset > 0 {
			data.PrevURL = pageURL(max(0, f.Offset-f.Limit))
		}
		if uint64(f.Offset+len(rows)) < total {
			data.NextURL = pageURL(f.Offset + f.Limit)
		}
	}
	s.render(w, status, "records", data)
}

func (s *Service) recordPage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok || !s.activityStore(w) {
		return
	}
	object, key := r.PathValue("object"), r.PathValue("key")
	f := activity.RecordFilter{Connection: c.ID, Object: object}
	if err := f.Check(); err != nil || object == "" {
		http.Error(w, fmt.Sprintf("object %q is not a synced object", object), http.StatusBadRequest)
		return
	}
	steps, err := s.activity.Timeline(r.Context(), c.ID, object, key, 0)
	if err != nil {
		s.storeFailed(w, "timeline", err)
		return
	}
	var cat *syncerr.Category
	if n := len(steps); n > 0 && steps[n-1].Outcome == string(activity.OutcomeFailed) {
		c := syncerr.CategoryOf(syncerr.Code(steps[n-1].ErrorCode))
		cat = &c
	}
	s.render(w, http.StatusOK, "record", struct {
		page
		Conn        connection.Connection
		Object, Key string
		Steps       []activity.Step
		Category    *syncerr.Category
	}{page{Title: key, Me: principalOf(r.Context())}, c, object, key, steps, cat})
}

// dryRunPage shows the dry run of the connection's current settings.
func (s *Service) dryRunPage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	data := struct {
		page
		Conn    connection.Connection
		Results []DryRunResult
		Sample  int
		Error   string
	}{page: page{Title: "Dry run · " + c.ID, Me: principalOf(r.Context())}, Conn: c, Sample: dryRunSample}
	if s.qbo == nil || s.hubspot == nil {
		data.Error = "this process cannot reach the accounts"
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		defer cancel()
		results, err := s.dryRun(ctx, c)
		if err != nil {
			data.Error = "connect both accounts first"
		}
		data.Results = results
	}
	s.render(w, http.StatusOK, "dryrun", data)
}
