package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/filter"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/pkg/progress"
	"github.com/ledgersync/ledgersync/pkg/tokens"
	"github.com/ledgersync/ledgersync/streams"
)

// Service serves the admin API.
type Service struct {
	cfg      Config
	conns    *connection.Store
	tokens   *tokens.Store
	logger   *slog.Logger
	client   *http.Client
	stateKey []byte
	now      func() time.Time
	cursors  jetstream.KeyValue // first-sync progress; nil: not shown
	qbo      QBOClients         // settings checks; nil: no warnings
	hubspot  HubSpotClients     // the dry run; nil: not offered
	activity *activity.Store    // reports; nil: not served
	users    *auth.Store        // nil: only SYNC_ADMIN_TOKEN signs in
	sessions *auth.Sessions
	throttle *auth.LoginThrottle
	// exports (nil: not offered)
	exportJobs  jetstream.KeyValue
	exportFiles jetstream.ObjectStore
}

// WithProgress lets the API show first-sync progress from the cursors bucket.
func (s *Service) WithProgress(cursors jetstream.KeyValue) *Service {
	s.cursors = cursors
	return s
}

// New returns the API on the given stores. httpClient (nil: a default with
// a timeout) calls the OAuth token endpoints and HubSpot's API.
func New(cfg Config, conns *connection.Store, tokenStore *tokens.Store, logger *slog.Logger, httpClient *http.Client) *Service {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 20 * time.Second}
	}
	// OAuth state is signed with a key derived from the token key, so any
	// api replica can check a callback another replica started.
	sum := sha256.Sum256([]byte("ledgersync oauth state\x00" + cfg.Keys.Key.Reveal()))
	return &Service{cfg: cfg, conns: conns, tokens: tokenStore, logger: logger.With(logging.KeyStage, "api"),
		client: httpClient, stateKey: sum[:], now: time.Now, throttle: auth.NewLoginThrottle(loginBurst, loginInterval)}
}

// Sign-in attempts per email and per client address: a few at once, then
// one every loginInterval.
const (
	loginBurst    = 5
	loginInterval = 20 * time.Second
)

// Routes registers the API on mux. Every route names the least role that
// may use it; connections are seen only within their workspace.
func (s *Service) Routes(mux *http.ServeMux) {
	route := func(pattern string, h http.Handler) {
		APIRoutes = appendOnce(APIRoutes, pattern)
		mux.Handle(pattern, h)
	}
	viewer := func(pattern string, h http.HandlerFunc) { route(pattern, s.guard(auth.RoleViewer, h)) }
	integrator := func(pattern string, h http.HandlerFunc) { route(pattern, s.guard(auth.RoleIntegrationAdmin, h)) }
	super := func(pattern string, h http.HandlerFunc) { route(pattern, s.guard(auth.RoleSuperAdmin, h)) }
	viewer("GET /api/connections", s.listConnections)
	integrator("POST /api/connections", s.createConnection)
	viewer("GET /api/connections/{id}", s.getConnection)
	integrator("PATCH /api/connections/{id}", s.patchConnection)
	integrator("DELETE /api/connections/{id}", s.deleteConnection)
	viewer("GET /api/connections/{id}/health", s.health)
	viewer("GET /api/connections/{id}/progress", s.progress)
	viewer("GET /api/connections/{id}/warnings", s.warnings)
	viewer("GET /api/connections/{id}/reports/fees", s.feesReport)
	viewer("GET /api/connections/{id}/objects", s.objectView)
	viewer("GET /api/connections/{id}/records", s.recordView)
	viewer("GET /api/connections/{id}/records/{object}/{key}/timeline", s.timeline)
	viewer("GET /api/connections/{id}/activity", s.activityChart)
	viewer("GET /api/categories", s.categories)
	viewer("GET /api/connections/{id}/dry-run", s.dryRunHandler)
	viewer("GET /api/connections/{id}/fields", s.fieldsHandler)
	viewer("POST /api/connections/{id}/exports", s.createExport)
	viewer("GET /api/connections/{id}/exports/{export}", s.getExport)
	viewer("GET /api/connections/{id}/exports/{export}/file", s.exportFile)
	integrator("PUT /api/connections/{id}/hubspot/private-app", s.putPrivateAppToken)
	integrator("POST /api/connections/{id}/{system}/authorize", s.authorize)
	// Callbacks come from the user's browser, redirected by Intuit or
	// HubSpot: the signed state authenticates them, not the admin token.
	route("GET /api/oauth/{system}/callback", http.HandlerFunc(s.callback))
	route("POST /api/login", http.HandlerFunc(s.login))
	route("GET /api/openapi.yaml", http.HandlerFunc(serveOpenAPI))
	viewer("POST /api/logout", s.logout)
	viewer("GET /api/me", s.me)
	viewer("POST /api/me/tokens", s.createToken)
	super("GET /api/users", s.listUsers)
	super("POST /api/users", s.createUser)
	s.webRoutes(mux)
}

// APIRoutes lists the patterns Routes registered under /api/ (the OpenAPI
// file is checked against it).
var APIRoutes []string

func appendOnce(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

//go:embed openapi.yaml
var openAPI []byte

// serveOpenAPI answers the API's description, for scripts and tools.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPI)
}

// connectionOf reads the connection of the request's {id}, answering 404
// for one outside the caller's workspace (as for one that does not exist).
func (s *Service) connectionOf(w http.ResponseWriter, r *http.Request) (connection.Connection, bool) {
	c, _, err := s.conns.Get(r.Context(), r.PathValue("id"))
	if err == nil && !principalOf(r.Context()).sees(c) {
		err = fmt.Errorf("%w: %s", connection.ErrNotFound, r.PathValue("id"))
	}
	if err != nil {
		storeError(w, err)
		return connection.Connection{}, false
	}
	return c, true
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

// storeError maps store errors to statuses.
func storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, connection.ErrNotFound):
		writeError(w, http.StatusNotFound, "NOT_FOUND", err.Error())
	case errors.Is(err, connection.ErrExists):
		writeError(w, http.StatusConflict, "CONFLICT", err.Error())
	default:
		var ve validationError
		if errors.As(err, &ve) {
			writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, "INTERNAL", "the connection store failed; see the server log")
	}
}

type validationError struct{ error }

func (v validationError) Unwrap() error { return v.error }

func (s *Service) listConnections(w http.ResponseWriter, r *http.Request) {
	list, err := s.conns.List(r.Context())
	if err != nil {
		s.logger.Error("list connections", logging.KeyError, err)
		storeError(w, err)
		return
	}
	p := principalOf(r.Context())
	visible := list[:0:0]
	for _, c := range list {
		if p.sees(c) {
			visible = append(visible, c)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": visible})
}

// createRequest creates a connection. Objects not given get the
// recommended defaults (P6) from the setup date.
type createRequest struct {
	ID        string                                       `json:"id"`
	Name      string                                       `json:"name"`
	Workspace string                                       `json:"workspace"`
	Objects   map[streams.Object]connection.ObjectSettings `json:"objects"`
	HubSpot   struct {
		PortalID string `json:"portal_id"`
		BaseURL  string `json:"base_url"`
	} `json:"hubspot"`
	QBO struct {
		RealmID string `json:"realm_id"`
		BaseURL string `json:"base_url"`
	} `json:"qbo"`
}

func (s *Service) createConnection(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	c := NewConnection(req.ID, req.Name, s.now())
	if p := principalOf(r.Context()); p.Workspace != "" {
		c.Workspace = p.Workspace // people create in their own workspace
	} else if req.Workspace != "" {
		c.Workspace = req.Workspace
	}
	for o, settings := range req.Objects {
		c.Objects[o] = settings
	}
	c.HubSpot.PortalID, c.HubSpot.BaseURL = req.HubSpot.PortalID, req.HubSpot.BaseURL
	c.QBO.RealmID, c.QBO.BaseURL = req.QBO.RealmID, req.QBO.BaseURL
	if err := c.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	created, err := s.conns.Create(r.Context(), c)
	if err != nil {
		storeError(w, err)
		return
	}
	s.logger.Info("connection created", logging.KeyConnection, created.ID)
	writeJSON(w, http.StatusCreated, created)
}

// NewConnection returns a connection with the recommended settings of every
// object; an empty id gets a random one.
func NewConnection(id, name string, setupAt time.Time) connection.Connection {
	if id == "" {
		var b [5]byte
		_, _ = rand.Read(b[:])
		id = "c-" + hex.EncodeToString(b[:])
	}
	c := connection.Connection{ID: id, Name: name, Workspace: "default", SetupAt: setupAt.UTC(), Objects: map[streams.Object]connection.ObjectSettings{}}
	for _, o := range streams.Objects {
		c.Objects[o] = connection.Recommended(o, setupAt)
	}
	return c
}

func (s *Service) getConnection(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// patchRequest edits a connection: the name and whole object sections. A
// locked filter left out of an object's section is kept as it is.
type patchRequest struct {
	Name    *string                                      `json:"name"`
	Objects map[streams.Object]connection.ObjectSettings `json:"objects"`
}

func (s *Service) patchConnection(w http.ResponseWriter, r *http.Request) {
	var req patchRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	current, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	if problems := s.checkMappings(r.Context(), current, req.Objects); len(problems) > 0 {
		var lines []string
		for o, list := range problems {
			for _, p := range list {
				lines = append(lines, string(o)+": "+p)
			}
		}
		sort.Strings(lines)
		writeError(w, http.StatusBadRequest, "VALIDATION", strings.Join(lines, "\n"))
		return
	}
	updated, err := s.conns.Update(r.Context(), r.PathValue("id"), func(c *connection.Connection) error {
		if req.Name != nil {
			c.Name = *req.Name
		}
		for o, settings := range req.Objects {
			for dir, f := range c.Objects[o].Filters {
				if _, given := settings.Filters[dir]; f.Locked && !given {
					if settings.Filters == nil {
						settings.Filters = map[connection.Direction]filter.Filter{}
					}
					settings.Filters[dir] = f
				}
			}
			c.Objects[o] = settings
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, connection.ErrNotFound) {
			err = validationError{err}
		}
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

func (s *Service) deleteConnection(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.connectionOf(w, r); !ok {
		return
	}
	if err := s.conns.Delete(r.Context(), id); err != nil {
		storeError(w, err)
		return
	}
	for _, sys := range []streams.System{streams.SystemHubSpot, streams.SystemQBO} {
		_ = s.tokens.Delete(r.Context(), id, sys)
	}
	s.logger.Info("connection deleted", logging.KeyConnection, id)
	w.WriteHeader(http.StatusNoContent)
}

// systemHealth is one side's credential state, as the app shows it.
type systemHealth struct {
	Status        string     `json:"status"` // not_connected, ok, needs_reconnect
	AccountID     string     `json:"account_id,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	ExpiresAt     *time.Time `json:"access_token_expires_at,omitempty"`
	RefreshExpiry *time.Time `json:"refresh_token_expires_at,omitempty"`
}

func (s *Service) health(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.connectionOf(w, r); !ok {
		return
	}
	out := map[streams.System]systemHealth{}
	for _, sys := range []streams.System{streams.SystemHubSpot, streams.SystemQBO} {
		rec, _, err := s.tokens.Get(r.Context(), id, sys)
		if err != nil {
			out[sys] = systemHealth{Status: "not_connected"}
			continue
		}
		h := systemHealth{Status: string(rec.Status), AccountID: rec.AccountID, Reason: rec.Reason}
		if !rec.Expiry.IsZero() {
			h.ExpiresAt = &rec.Expiry
		}
		if !rec.RefreshExpiry.IsZero() {
			h.RefreshExpiry = &rec.RefreshExpiry
		}
		out[sys] = h
	}
	writeJSON(w, http.StatusOK, out)
}

// progress answers the first sync's progress per object and side.
func (s *Service) progress(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.connectionOf(w, r); !ok {
		return
	}
	if s.cursors == nil {
		writeJSON(w, http.StatusOK, map[string]any{"backfills": []progress.Backfill{}})
		return
	}
	list, err := progress.List(r.Context(), s.cursors, id)
	if err != nil {
		s.logger.Error("read progress", logging.KeyConnection, id, logging.KeyError, err)
		writeError(w, http.StatusInternalServerError, "INTERNAL", "the progress could not be read; see the server log")
		return
	}
	if list == nil {
		list = []progress.Backfill{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"backfills": list})
}

// putPrivateAppToken connects HubSpot with a private-app token after
// checking that HubSpot accepts it.
func (s *Service) putPrivateAppToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token    string `json:"token"`
		PortalID string `json:"portal_id"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	if req.Token == "" || req.PortalID == "" {
		writeError(w, http.StatusBadRequest, "VALIDATION", "token and portal_id are required")
		return
	}
	id := r.PathValue("id")
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	if status, err := s.checkHubSpotToken(r.Context(), apiBase(c.HubSpot.BaseURL, s.cfg.HubSpot.APIURL), req.Token); err != nil {
		writeError(w, http.StatusBadRequest, "HUBSPOT_TOKEN_REFUSED", fmt.Sprintf("HubSpot did not accept the token (%d): %v", status, err))
		return
	}
	if err := s.tokens.Put(r.Context(), tokens.Record{Connection: id, System: streams.SystemHubSpot, AccountID: req.PortalID, AccessToken: req.Token, TokenType: "Bearer"}); err != nil {
		storeError(w, err)
		return
	}
	if _, err := s.conns.Update(r.Context(), id, func(c *connection.Connection) error {
		c.HubSpot.PortalID, c.HubSpot.Auth = req.PortalID, connection.AuthPrivateApp
		return nil
	}); err != nil {
		storeError(w, err)
		return
	}
	s.logger.Info("hubspot connected with a private-app token", logging.KeyConnection, id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) checkHubSpotToken(ctx context.Context, base, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/crm/v3/objects/contacts?limit=1", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, errors.New(http.StatusText(resp.StatusCode))
	}
	return resp.StatusCode, nil
}

func apiBase(perConnection, global string) string {
	if perConnection != "" {
		return strings.TrimRight(perConnection, "/")
	}
	return strings.TrimRight(global, "/")
}

func (s *Service) oauthConfig(system string) (*oauth2.Config, error) {
	switch system {
	case string(streams.SystemQBO):
		if s.cfg.QBO.ClientID == "" {
			return nil, errors.New("QBO OAuth is not configured: set QBO_CLIENT_ID and QBO_CLIENT_SECRET")
		}
		return &oauth2.Config{ClientID: s.cfg.QBO.ClientID, ClientSecret: s.cfg.QBO.ClientSecret.Reveal(),
			Endpoint:    oauth2.Endpoint{AuthURL: s.cfg.QBO.AuthURL, TokenURL: s.cfg.QBO.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
			RedirectURL: s.cfg.callbackURL("qbo"), Scopes: []string{"com.intuit.quickbooks.accounting"}}, nil
	case string(streams.SystemHubSpot):
		if s.cfg.HubSpot.ClientID == "" {
			return nil, errors.New("HubSpot OAuth is not configured: set HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET, or use a private-app token")
		}
		return &oauth2.Config{ClientID: s.cfg.HubSpot.ClientID, ClientSecret: s.cfg.HubSpot.ClientSecret.Reveal(),
			Endpoint:    oauth2.Endpoint{AuthURL: s.cfg.HubSpot.AuthURL, TokenURL: s.cfg.HubSpot.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
			RedirectURL: s.cfg.callbackURL("hubspot"), Scopes: strings.Fields(s.cfg.HubSpot.Scopes)}, nil
	}
	return nil, fmt.Errorf("unknown system %q (hubspot or qbo)", system)
}

// authorize starts an OAuth connection: it answers the URL to send the
// user's browser to.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) {
	id, system := r.PathValue("id"), r.PathValue("system")
	oc, err := s.oauthConfig(system)
	if err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	if _, ok := s.connectionOf(w, r); !ok {
		return
	}
	state := s.signState(id, system, s.now().Add(15*time.Minute))
	writeJSON(w, http.StatusOK, map[string]string{"authorize_url": oc.AuthCodeURL(state), "redirect_uri": oc.RedirectURL})
}

type oauthState struct {
	Connection string `json:"c"`
	System     string `json:"s"`
	Expires    int64  `json:"e"`
	Nonce      string `json:"n"`
}

func (s *Service) signState(conn, system string, expires time.Time) string {
	var nonce [9]byte
	_, _ = rand.Read(nonce[:])
	body, _ := json.Marshal(oauthState{Connection: conn, System: system, Expires: expires.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(nonce[:])})
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

func (s *Service) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.stateKey)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (s *Service) verifyState(state, system string) (oauthState, error) {
	payload, sig, ok := strings.Cut(state, ".")
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(mac, s.mac(payload)) {
		return oauthState{}, errors.New("the state parameter is not one this service issued")
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return oauthState{}, errors.New("malformed state")
	}
	var st oauthState
	if err := json.Unmarshal(raw, &st); err != nil {
		return oauthState{}, errors.New("malformed state")
	}
	if st.System != system {
		return oauthState{}, errors.New("the state was issued for another system")
	}
	if s.now().Unix() > st.Expires {
		return oauthState{}, errors.New("the connect link expired; start again")
	}
	return st, nil
}

var resultPage = template.Must(template.New("result").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>ledgersync</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>{{if .OK}}Connected{{else}}Not connected{{end}}</h1>
<p>{{.Message}}</p>
{{if .Conn}}<p><a href="/app/connections/{{.Conn}}">Back to the connection</a></p>{{end}}
</body></html>`))

func (s *Service) resultPage(w http.ResponseWriter, status int, ok bool, msg string, conn ...string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	data := map[string]any{"OK": ok, "Message": msg}
	if len(conn) > 0 {
		data["Conn"] = conn[0]
	}
	_ = resultPage.Execute(w, data)
}

// callback finishes an OAuth connection: the code is exchanged, the tokens
// are stored encrypted and the account id is set on the connection.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	system := r.PathValue("system")
	q := r.URL.Query()
	st, err := s.verifyState(q.Get("state"), system)
	if err != nil {
		s.logger.Warn("oauth callback refused", "system", system, logging.KeyError, err)
		s.resultPage(w, http.StatusBadRequest, false, err.Error())
		return
	}
	if e := q.Get("error"); e != "" {
		s.resultPage(w, http.StatusBadRequest, false, "The connection was not approved ("+e+").")
		return
	}
	oc, err := s.oauthConfig(system)
	if err != nil {
		s.resultPage(w, http.StatusBadRequest, false, err.Error())
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, s.client)
	tok, err := oc.Exchange(ctx, q.Get("code"))
	if err != nil {
		s.logger.Warn("oauth code exchange failed", "system", system, logging.KeyConnection, st.Connection, logging.KeyError, redactOAuthError(err))
		s.resultPage(w, http.StatusBadGateway, false, "The authorization code could not be exchanged for tokens; start again.")
		return
	}
	rec := tokens.Record{Connection: st.Connection, System: streams.System(system), AccessToken: tok.AccessToken,
		RefreshToken: tok.RefreshToken, TokenType: tok.Type(), Expiry: tok.Expiry}
	if secs, ok := numberExtra(tok, "x_refresh_token_expires_in"); ok {
		rec.RefreshExpiry = s.now().Add(time.Duration(secs) * time.Second).UTC()
	}
	switch streams.System(system) {
	case streams.SystemQBO:
		rec.AccountID = q.Get("realmId") // it arrives only on this redirect
		if rec.AccountID == "" {
			s.resultPage(w, http.StatusBadRequest, false, "QuickBooks did not say which company was connected (no realmId).")
			return
		}
	case streams.SystemHubSpot:
		if hub, ok := numberExtra(tok, "hub_id"); ok {
			rec.AccountID = strconv.FormatInt(hub, 10)
		} else if rec.AccountID, err = s.hubSpotPortalOf(r.Context(), tok.AccessToken); err != nil {
			s.resultPage(w, http.StatusBadGateway, false, "HubSpot did not say which account was connected; start again.")
			return
		}
	}
	if err := s.tokens.Put(r.Context(), rec); err != nil {
		s.logger.Error("store tokens", logging.KeyConnection, st.Connection, logging.KeyError, err)
		s.resultPage(w, http.StatusInternalServerError, false, "The tokens could not be stored; see the server log.")
		return
	}
	if _, err := s.conns.Update(r.Context(), st.Connection, func(c *connection.Connection) error {
		if system == string(streams.SystemQBO) {
			c.QBO.RealmID = rec.AccountID
		} else {
			c.HubSpot.PortalID, c.HubSpot.Auth = rec.AccountID, connection.AuthOAuth
		}
		return nil
	}); err != nil {
		s.resultPage(w, http.StatusInternalServerError, false, "The connection could not be updated; see the server log.")
		return
	}
	s.logger.Info("oauth connected", "system", system, logging.KeyConnection, st.Connection)
	s.resultPage(w, http.StatusOK, true, "ledgersync is connected. You can close this window.", st.Connection)
}

func (s *Service) hubSpotPortalOf(ctx context.Context, accessToken string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(s.cfg.HubSpot.APIURL, "/")+"/oauth/v1/access-tokens/"+url.PathEscape(accessToken), nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var info struct {
		HubID int64 `json:"hub_id"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&info) != nil || info.HubID == 0 {
		return "", fmt.Errorf("access token info answered %d", resp.StatusCode)
	}
	return strconv.FormatInt(info.HubID, 10), nil
}

func numberExtra(tok *oauth2.Token, key string) (int64, bool) {
	switch v := tok.Extra(key).(type) {
	case float64:
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// redactOAuthError keeps the provider's error code, never a body that
// could echo a code or token.
func redactOAuthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return "token endpoint refused: " + re.ErrorCode
	}
	return err.Error()
}
