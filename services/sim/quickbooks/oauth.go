package quickbooks

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	authCodeTTL     = 5 * time.Minute
	refreshHardLife = 5 * 365 * 24 * time.Hour
)

// authStore holds OAuth state. A chain is one connection (one consent or
// the configured start token): its refresh tokens rotate, and revoking any
// token of a chain ends all of them.
type authStore struct {
	mu      sync.Mutex
	codes   map[string]*authCode
	access  map[string]*accessToken
	refresh map[string]*refreshToken
	chains  map[string]*chain
}

type authCode struct {
	realm, redirectURI, chain string
	expires                   time.Time
	used                      bool
}

type accessToken struct {
	realm, chain string
	expires      time.Time
}

type refreshToken struct {
	realm, chain string
	issued       time.Time
	expires      time.Time
	superseded   time.Time // zero while current
}

type chain struct {
	realm   string
	current string
	started time.Time
	revoked bool
}

func newAuthStore() *authStore {
	return &authStore{
		codes:   map[string]*authCode{},
		access:  map[string]*accessToken{},
		refresh: map[string]*refreshToken{},
		chains:  map[string]*chain{},
	}
}

func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// newChain starts a connection for realm and returns its first refresh token.
func (a *authStore) newChain(realm, refreshValue string, now time.Time, ttl time.Duration) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := randomToken("", 12)
	if refreshValue == "" {
		refreshValue = randomToken("AB11", 48)
	}
	a.chains[id] = &chain{realm: realm, current: refreshValue, started: now}
	a.refresh[refreshValue] = &refreshToken{realm: realm, chain: id, issued: now, expires: now.Add(ttl)}
	return refreshValue
}

// issueAccess makes an access token for a chain. Caller holds a.mu.
func (a *authStore) issueAccess(realm, chainID string, now time.Time, ttl time.Duration) string {
	tok := randomToken("eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.sim.", 96)
	a.access[tok] = &accessToken{realm: realm, chain: chainID, expires: now.Add(ttl)}
	// Forget expired access tokens now and then so the map stays small.
	if len(a.access)%1024 == 0 {
		for k, v := range a.access {
			if now.After(v.expires) {
				delete(a.access, k)
			}
		}
	}
	return tok
}

// accessRealm resolves a bearer token.
func (a *authStore) accessRealm(tok string, now time.Time) (realm string, detail string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.access[tok]
	switch {
	case !ok:
		return "", "Token invalid"
	case a.chains[at.chain] == nil || a.chains[at.chain].revoked:
		return "", "Token revoked"
	case !now.Before(at.expires):
		return "", "Token expired: " + at.expires.UTC().Format(time.RFC3339)
	}
	return at.realm, ""
}

func (a *authStore) revokeChain(id string) {
	if c := a.chains[id]; c != nil {
		c.revoked = true
	}
}

// tokenAnswer is the token endpoint's JSON.
type tokenAnswer struct {
	TokenType            string `json:"token_type"`
	AccessToken          string `json:"access_token"`
	ExpiresIn            int64  `json:"expires_in"`
	RefreshToken         string `json:"refresh_token"`
	RefreshExpiresIn     int64  `json:"x_refresh_token_expires_in"`
	RefreshHardExpiresIn int64  `json:"x_refresh_token_hard_expires_in,omitempty"`
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	m := map[string]string{"error": code}
	if desc != "" {
		m["error_description"] = desc
	}
	_ = json.NewEncoder(w).Encode(m)
}

func (s *Server) clientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.ClientID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) == 1
}

// handleToken serves POST /oauth2/v1/tokens/bearer.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if !s.clientOK(r) {
		s.log.Info("oauth token refused", "reason", "invalid_client")
		oauthError(w, http.StatusUnauthorized, "invalid_client", "")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	now := s.now()
	a := s.auth
	a.mu.Lock()
	var ans tokenAnswer
	var realmID string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code, redirect := r.PostForm.Get("code"), r.PostForm.Get("redirect_uri")
		if code == "" || redirect == "" {
			a.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "invalid_request", "code and redirect_uri are required")
			return
		}
		c, ok := a.codes[code]
		if ok && c.used {
			// Reusing a code also invalidates the tokens issued from it.
			a.revokeChain(c.chain)
		}
		if !ok || c.used || !now.Before(c.expires) || c.redirectURI != redirect {
			a.mu.Unlock()
			s.log.Info("oauth token refused", "grant_type", "authorization_code", "reason", "invalid_grant")
			oauthError(w, http.StatusBadRequest, "invalid_grant", "")
			return
		}
		c.used = true
		a.mu.Unlock()
		rt := a.newChain(c.realm, "", now, s.cfg.RefreshTokenTTL)
		a.mu.Lock()
		c.chain = a.refresh[rt].chain
		ans.RefreshToken = rt
		ans.RefreshExpiresIn = int64(s.cfg.RefreshTokenTTL / time.Second)
		ans.AccessToken = a.issueAccess(c.realm, c.chain, now, s.cfg.AccessTokenTTL)
		realmID = c.realm
		if r.Header.Get("x-include-refresh-token-hard-expires-in") == "true" {
			ans.RefreshHardExpiresIn = int64(refreshHardLife / time.Second)
		}
	case "refresh_token":
		value := r.PostForm.Get("refresh_token")
		rt, ok := a.refresh[value]
		var ch *chain
		if ok {
			ch = a.chains[rt.chain]
		}
		if !ok || ch == nil || ch.revoked || !now.Before(rt.expires) ||
			!rt.superseded.IsZero() && !now.Before(rt.superseded.Add(s.cfg.RefreshGrace)) ||
			now.Sub(ch.started) >= refreshHardLife {
			a.mu.Unlock()
			s.log.Info("oauth token refused", "grant_type", "refresh_token", "reason", "invalid_grant")
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Incorrect or invalid refresh token")
			return
		}
		cur := a.refresh[ch.current]
		if rt.superseded.IsZero() && now.Sub(rt.issued) >= s.cfg.RefreshRotation {
			next := randomToken("AB11", 48)
			rt.superseded = now
			cur = &refreshToken{realm: rt.realm, chain: rt.chain, issued: now, expires: now.Add(s.cfg.RefreshTokenTTL)}
			a.refresh[next] = cur
			ch.current = next
		}
		ans.RefreshToken = ch.current
		ans.RefreshExpiresIn = int64(cur.expires.Sub(now) / time.Second)
		ans.AccessToken = a.issueAccess(rt.realm, rt.chain, now, s.cfg.AccessTokenTTL)
		realmID = rt.realm
		if r.Header.Get("x-include-refresh-token-hard-expires-in") == "true" {
			ans.RefreshHardExpiresIn = int64(ch.started.Add(refreshHardLife).Sub(now) / time.Second)
		}
	case "":
		a.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		a.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	a.mu.Unlock()
	ans.TokenType = "bearer"
	ans.ExpiresIn = int64(s.cfg.AccessTokenTTL / time.Second)
	s.log.Info("oauth token issued", "grant_type", r.PostForm.Get("grant_type"), "realm_id", realmID)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(ans)
}

// handleRevoke serves the revoke endpoint. Intuit takes a JSON body
// {"token": "..."}; a form body is accepted too.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.clientOK(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "")
		return
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Token == "" {
		if v, perr := url.ParseQuery(string(body)); perr == nil {
			in.Token = v.Get("token")
		}
	}
	if in.Token == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	a := s.auth
	a.mu.Lock()
	if rt, ok := a.refresh[in.Token]; ok {
		a.revokeChain(rt.chain)
	} else if at, ok := a.access[in.Token]; ok {
		a.revokeChain(at.chain)
	}
	a.mu.Unlock()
	s.log.Info("oauth token revoked")
	w.WriteHeader(http.StatusOK)
}

var authorizePage = template.Must(template.New("authorize").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect to QuickBooks (simulator)</title>
<style>body{font-family:sans-serif;max-width:36rem;margin:3rem auto;color:#222}
.card{border:1px solid #ccc;border-radius:8px;padding:1.5rem}button{font-size:1rem;padding:.5rem 1.5rem;margin-right:.5rem}
.connect{background:#2ca01c;color:#fff;border:0;border-radius:4px}.err{color:#b00}</style></head>
<body><div class="card">
<h1>QuickBooks Online simulator</h1>
{{if .Error}}<p class="err" id="error">{{.Error}}</p>{{else}}
<p><strong id="app">{{.ClientID}}</strong> wants to connect to your company.</p>
<form method="post" action="/connect/oauth2">
<p><label for="realmId">Company</label>
<select name="realmId" id="realmId">{{range .Realms}}<option value="{{.ID}}"{{if .Selected}} selected{{end}}>{{.Name}} (realm {{.ID}})</option>{{end}}</select></p>
<p>Permissions: <code id="scope">{{.Scope}}</code></p>
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="scope" value="{{.Scope}}">
<button class="connect" type="submit" name="action" value="connect" id="connect">Connect</button>
<button type="submit" name="action" value="cancel" id="cancel">Cancel</button>
</form>{{end}}
</div></body></html>`))

type realmOption struct {
	ID, Name string
	Selected bool
}

// handleAuthorize serves the consent page (GET) and its form (POST).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.authorizeError(w, "The request is malformed.")
		return
	}
	clientID, redirect := r.Form.Get("client_id"), r.Form.Get("redirect_uri")
	state, scope := r.Form.Get("state"), r.Form.Get("scope")
	if clientID != s.cfg.ClientID {
		s.authorizeError(w, "Unknown app (client_id). Check the client id of your app.")
		return
	}
	u, err := url.Parse(redirect)
	if redirect == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		s.authorizeError(w, "The redirect_uri is missing or is not an absolute http(s) URL.")
		return
	}
	if r.Method == http.MethodGet {
		if rt := r.Form.Get("response_type"); rt != "code" {
			s.authorizeError(w, "response_type must be code.")
			return
		}
		if !strings.Contains(scope, "com.intuit.quickbooks.accounting") {
			s.authorizeError(w, "The scope must include com.intuit.quickbooks.accounting.")
			return
		}
		want := r.Form.Get("realmId")
		if want == "" {
			want = s.cfg.RealmID
		}
		var opts []realmOption
		for _, id := range s.realmIDs() {
			name := id
			if rm := s.realm(id); rm != nil {
				rm.mu.RLock()
				if n := str(rm.companyInfo()["CompanyName"]); n != "" {
					name = n
				}
				rm.mu.RUnlock()
			}
			opts = append(opts, realmOption{ID: id, Name: name, Selected: id == want})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = authorizePage.Execute(w, map[string]any{"ClientID": clientID, "RedirectURI": redirect, "State": state, "Scope": scope, "Realms": opts})
		return
	}
	q := u.Query()
	if r.Form.Get("action") == "cancel" {
		q.Set("error", "access_denied")
		q.Set("state", state)
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	realmID := r.Form.Get("realmId")
	if s.realm(realmID) == nil {
		s.authorizeError(w, "Unknown company.")
		return
	}
	code := randomToken("AB11", 24)
	s.auth.mu.Lock()
	s.auth.codes[code] = &authCode{realm: realmID, redirectURI: redirect, expires: s.now().Add(authCodeTTL)}
	s.auth.mu.Unlock()
	q.Set("code", code)
	q.Set("state", state)
	q.Set("realmId", realmID)
	u.RawQuery = q.Encode()
	s.log.Info("oauth consent given", "realm_id", realmID)
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) authorizeError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = authorizePage.Execute(w, map[string]any{"Error": msg})
}

// handleDiscovery serves the OpenID discovery document with this
// simulator's endpoints, so discovery-based clients find it. OpenID
// (id_token, userinfo, jwks) is not simulated, so those are not listed.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + "/connect/oauth2",
		"token_endpoint":                        base + "/oauth2/v1/tokens/bearer",
		"revocation_endpoint":                   base + "/oauth2/v1/tokens/revoke",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"scopes_supported":                      []string{"com.intuit.quickbooks.accounting", "openid", "profile", "email"},
	})
}

func newTID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "1-" + hex.EncodeToString(b[:8]) + "-" + hex.EncodeToString(b[8:])
}
