package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/streams"
)

// SessionCookie names the admin app's session cookie.
const SessionCookie = "ls_session"

// CSRFHeader carries a session's CSRF token on unsafe requests (forms send
// the csrf_token field instead).
const CSRFHeader = "X-CSRF-Token"

// principal is who makes a request.
type principal struct {
	UserID    string    `json:"user_id,omitempty"`
	Email     string    `json:"email,omitempty"`
	Name      string    `json:"name,omitempty"`
	Role      auth.Role `json:"role"`
	Workspace string    `json:"workspace"` // "" = every workspace (the SYNC_ADMIN_TOKEN)
	CSRF      string    `json:"csrf_token,omitempty"`
	sessionID string
}

type principalKey struct{}

func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// sees reports whether p may see connection c.
func (p principal) sees(c connection.Connection) bool {
	return p.Workspace == "" || p.Workspace == c.Workspace
}

// WithAuth lets people sign in (sessions) and scripts use their own API
// tokens; without it only SYNC_ADMIN_TOKEN is accepted.
func (s *Service) WithAuth(users *auth.Store, sessions *auth.Sessions) *Service {
	s.users, s.sessions = users, sessions
	return s
}

// guard lets a request through when it is authenticated, its role allows
// need, and (for a browser session) an unsafe method carries the
// session's CSRF token.
func (s *Service) guard(need auth.Role, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ledgersync"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
				"sign in, or send Authorization: Bearer <API token or SYNC_ADMIN_TOKEN>")
			return
		}
		if p.sessionID != "" && !safeMethod(r.Method) {
			token := r.Header.Get(CSRFHeader)
			if token == "" {
				token = r.PostFormValue("csrf_token")
			}
			if subtle.ConstantTimeCompare([]byte(token), []byte(p.CSRF)) != 1 || token == "" {
				writeError(w, http.StatusForbidden, "CSRF", "the form is out of date or did not come from this app: reload the page and try again")
				return
			}
		}
		if !p.Role.Allows(need) {
			writeError(w, http.StatusForbidden, "FORBIDDEN", "your role ("+string(p.Role)+") may not do this; it needs "+string(need))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

var errUnauthenticated = errors.New("unauthenticated")

// authenticate finds the principal: the admin token, a user's API token,
// or a session cookie.
func (s *Service) authenticate(r *http.Request) (principal, error) {
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if subtle.ConstantTimeCompare([]byte(bearer), []byte(s.cfg.AdminToken.Reveal())) == 1 {
			return principal{Name: "SYNC_ADMIN_TOKEN", Role: auth.RoleSuperAdmin}, nil
		}
		if s.users != nil {
			if u, err := s.users.UserOfToken(r.Context(), bearer); err == nil {
				return userPrincipal(u), nil
			}
		}
		return principal{}, errUnauthenticated
	}
	if s.sessions == nil {
		return principal{}, errUnauthenticated
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return principal{}, errUnauthenticated
	}
	sess, err := s.sessions.Get(r.Context(), c.Value)
	if err != nil {
		return principal{}, errUnauthenticated
	}
	u, err := s.users.Get(r.Context(), sess.UserID)
	if err != nil || u.Disabled {
		return principal{}, errUnauthenticated
	}
	p := userPrincipal(u)
	p.CSRF, p.sessionID = sess.CSRF, c.Value
	return p, nil
}

func userPrincipal(u auth.User) principal {
	return principal{UserID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Workspace: u.Workspace}
}

// loginRequest is a sign-in, as JSON or as a form.
type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// login checks an email and password and starts a new session (never
// reusing a cookie sent with the request: no session fixation). Attempts
// are throttled per email and per client address.
func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	if s.users == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "sign-in is not enabled on this process")
		return
	}
	var req loginRequest
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := decodeBody(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
			return
		}
	} else {
		req.Email, req.Password = r.PostFormValue("email"), r.PostFormValue("password")
	}
	p, status, msg := s.signIn(w, r, req.Email, req.Password)
	if status != http.StatusOK {
		code := map[int]string{http.StatusTooManyRequests: "RATE_LIMITED", http.StatusUnauthorized: "UNAUTHENTICATED"}[status]
		if code == "" {
			code = "UNAVAILABLE"
		}
		writeError(w, status, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// signIn checks an email and password, throttled per email and address,
// and on success sets the cookie of a new session.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request, email, password string) (principal, int, string) {
	now := s.now()
	if ok, wait := s.throttle.Allow(now, "email:"+strings.ToLower(strings.TrimSpace(email)), "ip:"+clientAddr(r)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return principal{}, http.StatusTooManyRequests, "too many sign-in attempts; wait a little and try again"
	}
	u, err := s.users.Authenticate(r.Context(), email, password)
	if errors.Is(err, auth.ErrBadPassword) {
		s.logger.Info("sign-in refused", "addr", clientAddr(r)) // no email: personal data stays out of logs
		return principal{}, http.StatusUnauthorized, "wrong email or password"
	}
	if err != nil {
		s.logger.Error("sign-in", "err", err)
		return principal{}, http.StatusServiceUnavailable, "sign-in failed; see the server log"
	}
	id, sess, err := s.sessions.Start(r.Context(), u.ID, now)
	if err != nil {
		s.logger.Error("start session", "err", err)
		return principal{}, http.StatusServiceUnavailable, "sign-in failed; see the server log"
	}
	http.SetCookie(w, s.sessionCookie(id, streams.SessionLifetime))
	p := userPrincipal(u)
	p.CSRF = sess.CSRF
	s.logger.Info("signed in", "user_id", u.ID)
	return p, http.StatusOK, ""
}

// logout ends the session (guarded: it needs the CSRF token).
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	if p.sessionID != "" {
		if err := s.sessions.End(r.Context(), p.sessionID); err != nil {
			s.logger.Warn("end session", "err", err)
		}
	}
	http.SetCookie(w, s.sessionCookie("", -1))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) sessionCookie(value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: SessionCookie, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(s.cfg.PublicURL, "https://")}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge.Seconds())
	}
	return c
}

// me answers who is signed in (with the CSRF token the app sends back).
func (s *Service) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, principalOf(r.Context()))
}

// clientAddr is the request's remote host (the throttle's key).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// userView is a user as the API shows it (no password hash).
type userView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Role      auth.Role `json:"role"`
	Workspace string    `json:"workspace"`
	CreatedAt time.Time `json:"created_at"`
}

func viewOf(u auth.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Workspace: u.Workspace, CreatedAt: u.CreatedAt}
}

// listUsers answers the users of the caller's workspace.
func (s *Service) listUsers(w http.ResponseWriter, r *http.Request) {
	if s.users == nil {
		writeJSON(w, http.StatusOK, map[string]any{"users": []userView{}})
		return
	}
	list, err := s.users.List(r.Context(), principalOf(r.Context()).Workspace)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the user store failed; see the server log")
		return
	}
	out := make([]userView, 0, len(list))
	for _, u := range list {
		out = append(out, viewOf(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// createUser adds a user to the caller's workspace (the admin token names
// the workspace).
func (s *Service) createUser(w http.ResponseWriter, r *http.Request) {
	if s.users == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "users are not enabled on this process")
		return
	}
	var in auth.NewUserInput
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	if p := principalOf(r.Context()); p.Workspace != "" {
		in.Workspace = p.Workspace
	}
	u, err := s.users.Create(r.Context(), in, s.now())
	var ve *auth.ValidationError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, "VALIDATION", ve.Error())
	case errors.Is(err, auth.ErrEmailTaken):
		writeError(w, http.StatusConflict, "CONFLICT", "a user with this email exists")
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the user store failed; see the server log")
	default:
		writeJSON(w, http.StatusCreated, viewOf(u))
	}
}

// createToken makes an API token for the signed-in user; it is shown once.
func (s *Service) createToken(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	if p.UserID == "" || s.users == nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", "API tokens belong to users: sign in as one")
		return
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeBody(r, &in); err != nil || strings.TrimSpace(in.Name) == "" {
		writeError(w, http.StatusBadRequest, "VALIDATION", "name the token (what script uses it)")
		return
	}
	tok, err := s.users.CreateToken(r.Context(), p.UserID, in.Name, s.now())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the user store failed; see the server log")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"name": in.Name, "token": tok})
}

// EnsureFirstAdmin makes the first super admin from SYNC_ADMIN_EMAIL and
// SYNC_ADMIN_PASSWORD when no user exists yet.
func (s *Service) EnsureFirstAdmin(ctx context.Context) error {
	if s.users == nil || s.cfg.AdminEmail == "" {
		return nil
	}
	exists, err := s.users.Any(ctx)
	if err != nil || exists {
		return err
	}
	_, err = s.users.Create(ctx, auth.NewUserInput{Email: s.cfg.AdminEmail, Name: "Administrator", Role: auth.RoleSuperAdmin,
		Workspace: "default", Password: s.cfg.AdminPassword.Reveal()}, s.now())
	if errors.Is(err, auth.ErrEmailTaken) {
		return nil // another replica made it
	}
	if err == nil {
		s.logger.Info("first admin created from SYNC_ADMIN_EMAIL")
	}
	return err
}
