package links_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/links"
	"github.com/ledgersync/ledgersync/pkg/testutil"
	"github.com/ledgersync/ledgersync/streams"
)

func store(t *testing.T) *links.Store {
	t.Helper()
	js := testutil.StartJetStreamWithTopology(t, nil).JS
	l, err := js.KeyValue(context.Background(), streams.BucketLinks)
	if err != nil {
		t.Fatal(err)
	}
	i, err := js.KeyValue(context.Background(), streams.BucketLinkIndex)
	if err != nil {
		t.Fatal(err)
	}
	return links.NewStore(l, i, js.Conn())
}

func TestMatchingByEmailJoinsOnePairEvenUnderRaces(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	// 50 email addresses, each seen at once from both sides and twice per side.
	var wg sync.WaitGroup
	pairs := sync.Map{}
	for i := 0; i < 50; i++ {
		for _, sys := range []streams.System{streams.SystemHubSpot, streams.SystemQBO} {
			for rep := 0; rep < 2; rep++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, sys, fmt.Sprintf("%s%d", sys, i), fmt.Sprintf("u%d@example.com", i))
					if err != nil {
						t.Error(err)
						return
					}
					pairs.Store(fmt.Sprintf("%d/%s/%d", i, sys, rep), l.Pair)
				}()
			}
		}
	}
	wg.Wait()
	for i := 0; i < 50; i++ {
		var first string
		for _, key := range []string{"hubspot/0", "hubspot/1", "qbo/0", "qbo/1"} {
			v, _ := pairs.Load(fmt.Sprintf("%d/%s", i, key))
			p, _ := v.(string)
			if first == "" {
				first = p
			}
			if p != first || p == "" {
				t.Fatalf("email %d resolved to different pairs: %q vs %q", i, p, first)
			}
		}
		l, _, err := s.Get(ctx, "c1", streams.ObjectContact, first)
		if err != nil {
			t.Fatal(err)
		}
		if l.Sides[streams.SystemHubSpot].ID != fmt.Sprintf("hubspot%d", i) || l.Sides[streams.SystemQBO].ID != fmt.Sprintf("qbo%d", i) {
			t.Fatalf("link %d: %+v", i, l.Sides)
		}
	}
}

func TestSameSideSharingAnEmailStaysSeparate(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	a, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemQBO, "1", "shared@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemQBO, "2", "shared@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if a.Pair == b.Pair {
		t.Fatal("two QBO customers with one email were joined")
	}
	again, _, _ := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemQBO, "2", "")
	if again.Pair != b.Pair {
		t.Fatal("lookup by id lost the pair")
	}
	// A commit under contention keeps every edit.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Commit(ctx, "c1", streams.ObjectContact, a.Pair, func(l *links.Link) error {
				sd := l.Sides[streams.SystemQBO]
				sd.Seen++
				l.Sides[streams.SystemQBO] = sd
				return nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _, _ := s.Get(ctx, "c1", streams.ObjectContact, a.Pair)
	if got.Sides[streams.SystemQBO].Seen != 20 {
		t.Fatalf("seen %d after 20 concurrent commits", got.Sides[streams.SystemQBO].Seen)
	}
}

func TestCommitAtAStaleRevisionKeepsTheOtherWritersChange(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	l, rev, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemHubSpot, "h1", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile the QBO customer with the same email joins the link.
	if _, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemQBO, "q1", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	got, err := s.CommitAt(ctx, l, rev, func(l *links.Link) error {
		sd := l.Sides[streams.SystemHubSpot]
		sd.Seen = 42
		l.Sides[streams.SystemHubSpot] = sd
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, _, err := s.Get(ctx, "c1", streams.ObjectContact, l.Pair)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]links.Link{"returned": got, "stored": stored} {
		if v.Sides[streams.SystemQBO].ID != "q1" || v.Sides[streams.SystemHubSpot].Seen != 42 {
			t.Fatalf("%s link lost a change: %+v", name, v.Sides)
		}
	}
	if l.Sides[streams.SystemHubSpot].Seen != 0 {
		t.Fatalf("CommitAt edited the caller's link: %+v", l.Sides)
	}
}

// ResolveCommit gives the edit the link as it stands in every case: a
// first sight's new link (created edited, in one write), the link of a
// record already seen, and the link of the other side's record it joins by
// match key; and every concurrent edit lands.
func TestResolveCommitEditsTheLinkAsItStands(t *testing.T) {
	for _, tc := range []struct {
		name      string
		before    func(context.Context, *links.Store) error
		sys       streams.System
		id, match string
		wantPair  string
		wantOther string // the other side's id the edit must see
		wantRev   uint64 // the link's revision after the call; 0: not checked
	}{
		{name: "first sight", sys: streams.SystemHubSpot, id: "h1", match: "a@example.com", wantPair: "hubspot-h1", wantRev: 1},
		{name: "seen before", sys: streams.SystemHubSpot, id: "h1", match: "a@example.com", wantPair: "hubspot-h1", wantRev: 2,
			before: func(ctx context.Context, s *links.Store) error {
				_, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemHubSpot, "h1", "a@example.com")
				return err
			}},
		{name: "joins the other side's link", sys: streams.SystemHubSpot, id: "h1", match: "a@example.com", wantPair: "qbo-q1", wantOther: "q1",
			before: func(ctx context.Context, s *links.Store) error {
				_, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemQBO, "q1", "a@example.com")
				return err
			}},
		{name: "joined the other side's link before", sys: streams.SystemHubSpot, id: "h1", match: "a@example.com", wantPair: "qbo-q1", wantOther: "q1",
			before: func(ctx context.Context, s *links.Store) error {
				if _, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemQBO, "q1", "a@example.com"); err != nil {
					return err
				}
				_, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemHubSpot, "h1", "a@example.com")
				return err
			}},
		{name: "created by the writer", sys: streams.SystemQBO, id: "q9", match: "b@example.com", wantPair: "hubspot-h9", wantOther: "h9",
			before: func(ctx context.Context, s *links.Store) error {
				l, rev, err := s.Resolve(ctx, "c1", streams.ObjectContact, streams.SystemHubSpot, "h9", "b@example.com")
				if err != nil {
					return err
				}
				if _, err := s.CommitAt(ctx, l, rev, func(l *links.Link) error {
					l.Sides[streams.SystemQBO] = links.Side{ID: "q9"}
					return nil
				}); err != nil {
					return err
				}
				return s.Index(ctx, "c1", streams.ObjectContact, streams.SystemQBO, "q9", "hubspot-h9")
			}},
	} {
		for _, firstSight := range []bool{false, true} {
			name := tc.name
			resolveCommit := (*links.Store).ResolveCommit
			if firstSight {
				name += ", read by a first sync"
				resolveCommit = (*links.Store).ResolveCommitFirstSight
			}
			t.Run(name, func(t *testing.T) {
				s := store(t)
				ctx := context.Background()
				if tc.before != nil {
					if err := tc.before(ctx, s); err != nil {
						t.Fatal(err)
					}
				}
				var sawOther string
				got, err := resolveCommit(s, ctx, "c1", streams.ObjectContact, tc.sys, tc.id, tc.match, func(l *links.Link) error {
					sawOther = l.Sides[links.Other(tc.sys)].ID
					sd := l.Sides[tc.sys]
					sd.Seen = 7
					l.Sides[tc.sys] = sd
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				stored, rev, err := s.Get(ctx, "c1", streams.ObjectContact, tc.wantPair)
				if err != nil {
					t.Fatal(err)
				}
				if got.Pair != tc.wantPair || sawOther != tc.wantOther {
					t.Fatalf("pair %q (want %q), edit saw other side %q (want %q)", got.Pair, tc.wantPair, sawOther, tc.wantOther)
				}
				for name, l := range map[string]links.Link{"returned": got, "stored": stored} {
					if l.Sides[tc.sys].ID != tc.id || l.Sides[tc.sys].Seen != 7 || l.Sides[links.Other(tc.sys)].ID != tc.wantOther {
						t.Fatalf("%s link: %+v", name, l.Sides)
					}
				}
				if tc.wantRev != 0 && rev != tc.wantRev {
					t.Fatalf("link at revision %d, want %d (one write per call)", rev, tc.wantRev)
				}
				if again, _, err := s.Resolve(ctx, "c1", streams.ObjectContact, tc.sys, tc.id, ""); err != nil || again.Pair != tc.wantPair {
					t.Fatalf("lookup by id: %q, %v", again.Pair, err)
				}
				// A record that belongs to another link keeps no link of its own.
				if own := string(tc.sys) + "-" + tc.id; own != tc.wantPair {
					if _, _, err := s.Get(ctx, "c1", streams.ObjectContact, own); !errors.Is(err, jetstream.ErrKeyNotFound) {
						t.Fatalf("link %s left behind: %v", own, err)
					}
				}
			})
		}
	}
	t.Run("races", func(t *testing.T) {
		s := store(t)
		ctx := context.Background()
		// Both sides of each email seen at once: each edit lands on the
		// one link they end on.
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			for _, sys := range []streams.System{streams.SystemHubSpot, streams.SystemQBO} {
				wg.Go(func() {
					if _, err := s.ResolveCommit(ctx, "c1", streams.ObjectContact, sys, fmt.Sprintf("%s%d", sys, i), fmt.Sprintf("u%d@example.com", i),
						func(l *links.Link) error {
							sd := l.Sides[sys]
							sd.Seen++
							l.Sides[sys] = sd
							return nil
						}); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
		for i := 0; i < 50; i++ {
			l, ok, err := s.Of(ctx, "c1", streams.ObjectContact, streams.SystemHubSpot, fmt.Sprintf("hubspot%d", i))
			if err != nil || !ok {
				t.Fatalf("record %d: %v", i, err)
			}
			hs, q := l.Sides[streams.SystemHubSpot], l.Sides[streams.SystemQBO]
			if q.ID != fmt.Sprintf("qbo%d", i) || hs.Seen != 1 || q.Seen != 1 {
				t.Fatalf("record %d: %+v", i, l.Sides)
			}
		}
	})
}
