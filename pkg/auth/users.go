package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Role is what a user may do.
type Role string

const (
	RoleSuperAdmin       Role = "super_admin"       // everything, users included
	RoleIntegrationAdmin Role = "integration_admin" // connect and configure syncs
	RoleViewer           Role = "viewer"            // status and exports only
)

var rank = map[Role]int{RoleViewer: 1, RoleIntegrationAdmin: 2, RoleSuperAdmin: 3}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return rank[r] > 0 }

// Allows reports whether r may do what needs at least role need.
func (r Role) Allows(need Role) bool { return rank[r] >= rank[need] && rank[need] > 0 }

// User is one person with access to a workspace.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name,omitempty"`
	Role         Role      `json:"role"`
	Workspace    string    `json:"workspace"`
	PasswordHash string    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at"`
	Disabled     bool      `json:"disabled,omitempty"`
}

// APIToken is a user's token for scripts; only its hash is stored.
type APIToken struct {
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Errors of the store.
var (
	ErrNotFound    = errors.New("auth: not found")
	ErrEmailTaken  = errors.New("auth: a user with this email exists")
	ErrBadPassword = errors.New("auth: wrong email or password")
)

// Store keeps users, their email index and API tokens in a KV bucket.
type Store struct {
	kv jetstream.KeyValue
}

// NewStore returns the store on the users bucket.
func NewStore(kv jetstream.KeyValue) *Store { return &Store{kv: kv} }

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func emailKey(email string) string {
	return "email." + digest(strings.ToLower(strings.TrimSpace(email)))
}

// NewUserInput is what creating a user takes.
type NewUserInput struct {
	Email     string `json:"email"`
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	Workspace string `json:"workspace"`
	Password  string `json:"password"`
}

// Create adds a user; the email is unique across workspaces (it is the login).
func (s *Store) Create(ctx context.Context, in NewUserInput, now time.Time) (User, error) {
	var problems []string
	addr, err := mail.ParseAddress(in.Email)
	if err != nil || addr.Address != strings.TrimSpace(in.Email) {
		problems = append(problems, fmt.Sprintf("email %q is not an email address", in.Email))
	}
	if !in.Role.Valid() {
		problems = append(problems, fmt.Sprintf("role %q: want super_admin, integration_admin or viewer", in.Role))
	}
	if strings.TrimSpace(in.Workspace) == "" {
		problems = append(problems, "workspace is empty")
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return User{}, &ValidationError{Problems: problems}
	}
	u := User{ID: newID(), Email: strings.ToLower(strings.TrimSpace(in.Email)), Name: in.Name, Role: in.Role,
		Workspace: in.Workspace, PasswordHash: hash, CreatedAt: now.UTC()}
	// The email index is claimed first: two creates of one email race on
	// it, and the loser writes no user.
	if _, err := s.kv.Create(ctx, emailKey(u.Email), []byte(u.ID)); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return User{}, ErrEmailTaken
		}
		return User{}, err
	}
	body, _ := json.Marshal(u)
	if _, err := s.kv.Create(ctx, "user."+u.ID, body); err != nil {
		_ = s.kv.Delete(ctx, emailKey(u.Email))
		return User{}, err
	}
	return u, nil
}

// Get reads a user by id.
func (s *Store) Get(ctx context.Context, id string) (User, error) {
	e, err := s.kv.Get(ctx, "user."+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	var u User
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		return User{}, fmt.Errorf("auth: user %s: %w", id, err)
	}
	return u, nil
}

// ByEmail reads a user by email.
func (s *Store) ByEmail(ctx context.Context, email string) (User, error) {
	e, err := s.kv.Get(ctx, emailKey(email))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	return s.Get(ctx, string(e.Value()))
}

// Any reports whether any user exists (the first admin is made otherwise).
func (s *Store) Any(ctx context.Context) (bool, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = lister.Stop() }()
	for k := range lister.Keys() {
		if strings.HasPrefix(k, "user.") {
			return true, nil
		}
	}
	return false, nil
}

// List returns the users of a workspace ("" for every workspace).
func (s *Store) List(ctx context.Context, workspace string) ([]User, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for k := range lister.Keys() {
		if id, ok := strings.CutPrefix(k, "user."); ok {
			ids = append(ids, id)
		}
	}
	var out []User
	for _, id := range ids {
		u, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if workspace == "" || u.Workspace == workspace {
			out = append(out, u)
		}
	}
	return out, nil
}

// Authenticate checks an email and password. Unknown emails cost as much
// time as wrong passwords, and both answer ErrBadPassword.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	u, err := s.ByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		_, _ = CheckPassword(dummyHash, password)
		return User{}, ErrBadPassword
	}
	if err != nil {
		return User{}, err
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return User{}, err
	}
	if !ok || u.Disabled {
		return User{}, ErrBadPassword
	}
	return u, nil
}

// TokenPrefix starts every API token, so secret scanners can find leaks.
const TokenPrefix = "lst_"

// CreateToken makes an API token for a user; the token is shown once.
func (s *Store) CreateToken(ctx context.Context, userID, name string, now time.Time) (string, error) {
	token := TokenPrefix + randomText(32)
	body, _ := json.Marshal(APIToken{UserID: userID, Name: name, CreatedAt: now.UTC()})
	if _, err := s.kv.Create(ctx, "token."+digest(token), body); err != nil {
		return "", err
	}
	return token, nil
}

// UserOfToken returns the user an API token belongs to.
func (s *Store) UserOfToken(ctx context.Context, token string) (User, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return User{}, ErrNotFound
	}
	e, err := s.kv.Get(ctx, "token."+digest(token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	var t APIToken
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return User{}, err
	}
	u, err := s.Get(ctx, t.UserID)
	if err != nil || u.Disabled {
		return User{}, ErrNotFound
	}
	return u, nil
}

// ValidationError lists what is wrong with a request.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

func newID() string { return randomText(12) }

// randomText is n random bytes as URL-safe hex.
func randomText(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the OS random source failing is not recoverable
	}
	return hex.EncodeToString(b)
}
