package hubspot

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// principal is who made an API call.
type principal struct {
	oauth bool   // false: private-app token
	key   string // rate-limit bucket
}

type authCode struct {
	redirectURI string
	scopes      []string
	expires     time.Time
}

type accessToken struct {
	refresh string
	scopes  []string
	expires time.Time
}

type refreshToken struct {
	scopes []string
}

type authState struct {
	mu      sync.Mutex
	codes   map[string]authCode
	access  map[string]accessToken
	refresh map[string]refreshToken
}

func newAuthState() *authState {
	return &authState{codes: map[string]authCode{}, access: map[string]accessToken{}, refresh: map[string]refreshToken{}}
}

func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

var defaultScopes = []string{"oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read",
	"crm.objects.companies.write", "crm.objects.deals.read", "crm.objects.deals.write", "e-commerce", "crm.objects.invoices.read",
	"crm.objects.invoices.write", "crm.schemas.contacts.write", "crm.schemas.companies.write"}

// withAuth checks the bearer token (private-app token or OAuth access token).
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			tok, ok = strings.CutPrefix(h, "bearer ")
		}
		tok = strings.TrimSpace(tok)
		if !ok || tok == "" {
			writeError(w, r, newError(http.StatusUnauthorized, catInvalidAuth,
				"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"))
			return
		}
		var p principal
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1 {
			p = principal{key: "private"}
		} else {
			s.auth.mu.Lock()
			at, found := s.auth.access[tok]
			s.auth.mu.Unlock()
			switch {
			case !found:
				writeError(w, r, newError(http.StatusUnauthorized, catInvalidAuth,
					"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"))
				return
			case !s.now().Before(at.expires):
				e := newError(http.StatusUnauthorized, catExpiredAuth,
					"The OAuth token used to make this call expired %s ago.", s.now().Sub(at.expires).Truncate(time.Second))
				writeError(w, r, e)
				return
			}
			p = principal{oauth: true, key: "oauth"}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxPrincipal, p)))
	})
}

var authorizeTmpl = template.Must(template.New("authorize").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Connect {{.AppName}} to HubSpot (simulator)</title></head>
<body>
<h1>Connect {{.AppName}}</h1>
<p>{{.AppName}} wants to access HubSpot account {{.PortalID}} (local simulator).</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="scope" value="{{.Scope}}">
<input type="hidden" name="state" value="{{.State}}">
<button type="submit" id="connect">Connect</button>
</form>
</body></html>
`))

func oauthError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"status": code, "message": msg, "correlationId": correlationID(r)})
}

// handleAuthorizePage shows the consent page with a Connect button.
func (s *Server) handleAuthorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.cfg.ClientID {
		oauthError(w, r, http.StatusBadRequest, "BAD_CLIENT_ID", "unknown client_id")
		return
	}
	ru, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || ru.Scheme == "" || ru.Host == "" {
		oauthError(w, r, http.StatusBadRequest, "BAD_REDIRECT_URI", "redirect_uri must be an absolute URL")
		return
	}
	scope := q.Get("scope")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = authorizeTmpl.Execute(w, map[string]any{
		"AppName": s.cfg.AppName, "PortalID": s.cfg.PortalID, "ClientID": s.cfg.ClientID,
		"RedirectURI": ru.String(), "Scope": scope, "Scopes": strings.Fields(scope), "State": q.Get("state"),
	})
}

// handleAuthorizeConnect is the Connect button: issue a code and redirect.
func (s *Server) handleAuthorizeConnect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, r, http.StatusBadRequest, "BAD_REQUEST", "malformed form body")
		return
	}
	if r.PostForm.Get("client_id") != s.cfg.ClientID {
		oauthError(w, r, http.StatusBadRequest, "BAD_CLIENT_ID", "unknown client_id")
		return
	}
	ru, err := url.Parse(r.PostForm.Get("redirect_uri"))
	if err != nil || ru.Scheme == "" || ru.Host == "" {
		oauthError(w, r, http.StatusBadRequest, "BAD_REDIRECT_URI", "redirect_uri must be an absolute URL")
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		scopes = defaultScopes
	}
	code := uuid.NewString()
	s.auth.mu.Lock()
	s.auth.codes[code] = authCode{redirectURI: ru.String(), scopes: scopes, expires: s.now().Add(10 * time.Minute)}
	s.auth.mu.Unlock()
	q := ru.Query()
	q.Set("code", code)
	if st := r.PostForm.Get("state"); st != "" {
		q.Set("state", st)
	}
	ru.RawQuery = q.Encode()
	s.log.InfoContext(r.Context(), "oauth authorization granted", slog.Int("scope_count", len(scopes)))
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

// handleToken is POST /oauth/v1/token (form).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, r, http.StatusBadRequest, "BAD_REQUEST", "malformed form body")
		return
	}
	f := r.PostForm
	if f.Get("client_id") != s.cfg.ClientID {
		oauthError(w, r, http.StatusBadRequest, "BAD_CLIENT_ID", "missing or unknown client id")
		return
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.cfg.ClientSecret)) != 1 {
		oauthError(w, r, http.StatusBadRequest, "BAD_CLIENT_SECRET", "missing or invalid client secret")
		return
	}
	now := s.now()
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	var refresh string
	var scopes []string
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := s.auth.codes[f.Get("code")]
		if !ok || !now.Before(c.expires) {
			delete(s.auth.codes, f.Get("code"))
			oauthError(w, r, http.StatusBadRequest, "BAD_AUTH_CODE", "missing or unknown auth code")
			return
		}
		if f.Get("redirect_uri") != c.redirectURI {
			oauthError(w, r, http.StatusBadRequest, "BAD_REDIRECT_URI", "redirect_uri does not match the one used to authorize")
			return
		}
		delete(s.auth.codes, f.Get("code")) // single use
		refresh, scopes = uuid.NewString(), c.scopes
		s.auth.refresh[refresh] = refreshToken{scopes: scopes}
	case "refresh_token":
		refresh = f.Get("refresh_token")
		rt, ok := s.auth.refresh[refresh]
		if !ok {
			oauthError(w, r, http.StatusBadRequest, "BAD_REFRESH_TOKEN", "missing or unknown refresh token")
			return
		}
		scopes = rt.scopes
	default:
		oauthError(w, r, http.StatusBadRequest, "BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token")
		return
	}
	access := randomToken("CJS", 240) // real tokens can exceed 300 characters
	s.auth.access[access] = accessToken{refresh: refresh, scopes: scopes, expires: now.Add(s.cfg.AccessTokenTTL)}
	// Forget expired access tokens so the map cannot grow without bound.
	for k, v := range s.auth.access {
		if now.Sub(v.expires) > time.Hour {
			delete(s.auth.access, k)
		}
	}
	s.log.InfoContext(r.Context(), "oauth token issued", slog.String("grant_type", f.Get("grant_type")))
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "bearer", "access_token": access, "refresh_token": refresh,
		"expires_in": int(s.cfg.AccessTokenTTL / time.Second), "hub_id": s.cfg.PortalID, "user_id": 1000001, "scopes": scopes,
	})
}

// handleAccessTokenInfo is GET /oauth/v1/access-tokens/{token}.
func (s *Server) handleAccessTokenInfo(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	s.auth.mu.Lock()
	at, ok := s.auth.access[tok]
	s.auth.mu.Unlock()
	left := at.expires.Sub(s.now())
	if !ok || left <= 0 {
		oauthError(w, r, http.StatusNotFound, "NOT_FOUND", "access token not found or expired")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token": tok, "user": "sim-user@example.com", "hub_domain": "sim-portal.hubspot.local", "scopes": at.scopes,
		"hub_id": s.cfg.PortalID, "app_id": s.cfg.AppID, "expires_in": int(left / time.Second), "user_id": 1000001,
		"token_type": "access",
	})
}

// handleRefreshTokenInfo is GET /oauth/v1/refresh-tokens/{token}.
func (s *Server) handleRefreshTokenInfo(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	s.auth.mu.Lock()
	rt, ok := s.auth.refresh[tok]
	s.auth.mu.Unlock()
	if !ok {
		oauthError(w, r, http.StatusNotFound, "NOT_FOUND", "refresh token not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token": tok, "user": "sim-user@example.com", "hub_domain": "sim-portal.hubspot.local", "scopes": rt.scopes,
		"hub_id": s.cfg.PortalID, "client_id": s.cfg.ClientID, "user_id": 1000001, "token_type": "refresh",
	})
}

// handleRefreshTokenDelete revokes a refresh token and its access tokens.
func (s *Server) handleRefreshTokenDelete(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	s.auth.mu.Lock()
	_, ok := s.auth.refresh[tok]
	delete(s.auth.refresh, tok)
	for k, v := range s.auth.access {
		if v.refresh == tok {
			delete(s.auth.access, k)
		}
	}
	s.auth.mu.Unlock()
	if !ok {
		oauthError(w, r, http.StatusNotFound, "NOT_FOUND", "refresh token not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
