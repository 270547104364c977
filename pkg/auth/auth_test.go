package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

func stores(t *testing.T) (*auth.Store, *auth.Sessions) {
	t.Helper()
	ns := testutil.StartJetStreamWithTopology(t, nil)
	ctx := context.Background()
	users, err := ns.JS.KeyValue(ctx, streams.BucketUsers)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := ns.JS.KeyValue(ctx, streams.BucketSessions)
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewStore(users), auth.NewSessions(sessions)
}

func TestUsersTokensAndSessions(t *testing.T) {
	st, sessions := stores(t)
	ctx := context.Background()
	now := time.Now()
	if any, err := st.Any(ctx); err != nil || any {
		t.Fatalf("a new store has users: %v %v", any, err)
	}
	in := auth.NewUserInput{Email: "Ada@Example.com", Name: "Ada", Role: auth.RoleIntegrationAdmin, Workspace: "acme", Password: "correct horse battery"}
	u, err := st.Create(ctx, in, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(ctx, in, now); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("second user with the email: %v", err)
	}
	var ve *auth.ValidationError
	if _, err := st.Create(ctx, auth.NewUserInput{Email: "nope", Role: "root", Password: "short"}, now); !errors.As(err, &ve) || len(ve.Problems) != 4 {
		t.Fatalf("bad input: %v", err)
	}
	if got, err := st.Authenticate(ctx, "ada@example.com", "correct horse battery"); err != nil || got.ID != u.ID {
		t.Fatalf("login: %+v %v", got, err)
	}
	for _, tc := range [][2]string{{"ada@example.com", "wrong password!!"}, {"nobody@example.com", "correct horse battery"}} {
		if _, err := st.Authenticate(ctx, tc[0], tc[1]); !errors.Is(err, auth.ErrBadPassword) {
			t.Fatalf("login %s: %v, want the same refusal for a wrong password and an unknown email", tc[0], err)
		}
	}
	tok, err := st.CreateToken(ctx, u.ID, "ci", now)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.UserOfToken(ctx, tok); err != nil || got.ID != u.ID {
		t.Fatalf("token: %+v %v", got, err)
	}
	if _, err := st.UserOfToken(ctx, tok+"x"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a wrong token: %v", err)
	}
	id, sess, err := sessions.Start(ctx, u.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sessions.Get(ctx, id)
	if err != nil || got.UserID != u.ID || !got.CSRFMatches(sess.CSRF) || got.CSRFMatches("") || got.CSRFMatches(sess.CSRF[1:]) {
		t.Fatalf("session %+v %v", got, err)
	}
	if err := sessions.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.Get(ctx, id); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("a signed-out session: %v", err)
	}
}

func TestRoles(t *testing.T) {
	if !auth.RoleSuperAdmin.Allows(auth.RoleIntegrationAdmin) || !auth.RoleIntegrationAdmin.Allows(auth.RoleViewer) ||
		auth.RoleViewer.Allows(auth.RoleIntegrationAdmin) || auth.RoleIntegrationAdmin.Allows(auth.RoleSuperAdmin) || auth.Role("root").Allows(auth.RoleViewer) {
		t.Fatal("role order")
	}
}

func TestLoginThrottle(t *testing.T) {
	th := auth.NewLoginThrottle(5, time.Minute)
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 5; i++ {
		if ok, _ := th.Allow(now, "email:a", "ip:1"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	ok, wait := th.Allow(now, "email:a", "ip:2")
	if ok || wait <= 0 {
		t.Fatal("a sixth attempt on one email went through")
	}
	if ok, _ := th.Allow(now, "email:b", "ip:3"); !ok {
		t.Fatal("another email from another address was refused")
	}
	if ok, _ := th.Allow(now.Add(time.Minute), "email:a", "ip:4"); !ok {
		t.Fatal("the email was still refused after the interval")
	}
}
