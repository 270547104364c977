// Package links keeps which HubSpot record and which QBO record are the same
// thing, per connection and object, in the links KV bucket, with what was
// last synced from and written to each side. The link_index bucket maps each
// side's id, and the match key (a contact's email), to its link; index
// entries are claimed with create-only writes, so racing replicas settle on
// one link instead of creating duplicates.
package links

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/streams"
)

// Side is one system's half of a link.
type Side struct {
	ID string `json:"id,omitempty"`
	// Version is the source version (Unix ms) last synced from, or written
	// to, this side; anything not newer is dropped.
	Version int64 `json:"version,omitempty"`
	// Seen is the newest version the resolver saw from this side; Seen >
	// Version means a change of this side is still on its way.
	Seen int64 `json:"seen,omitempty"`
	// Hash of this side's record as the transformer maps it, at the last
	// sync. An incoming change with the same hash changed nothing mapped.
	Hash string `json:"hash,omitempty"`
	// WrittenAt is when ledgersync last wrote to this side: a same-hash
	// change after it is our own echo (P18).
	WrittenAt time.Time `json:"written_at,omitzero"`
	// Archived: the record is archived (HubSpot) or inactive (QBO), by the
	// user or by us; a second archive of it is not passed on.
	Archived bool `json:"archived,omitempty"`
	// Filled names the mapped fields this side's record gave a value at
	// its last sync to the other side. One of them that comes empty now
	// was cleared by the user, and is cleared on the other side too; a
	// field that was always empty clears nothing there.
	Filled []string `json:"filled,omitempty"`
	// Echo lists the fields, as this side's record maps to the other side,
	// that ledgersync changed on this side without taking a new Hash (it
	// wrote a few fields and did not read the whole record back). A record
	// from this side that differs from Hash by exactly these changes is our
	// own write coming back.
	Echo map[string]EchoField `json:"echo,omitempty"`
	// Related are the related values this side's record carried at its
	// last sync (a contact's primary company name). ledgersync's writes
	// leave them as they are, so the echo of a write to this side carries
	// them again: the writer maps its expected echo with them.
	Related map[string][]string `json:"related,omitempty"`
	// EchoVersion is the newest version of this side that was ledgersync's
	// own write: the version the write left, or a change recognised as its
	// echo. A replay never passes such a version on (see ReplayResyncs).
	EchoVersion int64 `json:"echo_version,omitempty"`
}

// ReplayResyncs reports whether a replayed record of this side at version,
// mapped to hash, must sync although it is not newer than the link: it is
// exactly the version last synced (never an older one, which would undo a
// newer change), it maps differently now (a mapping or filter fix), and it
// is not our own write coming back (a replayed echo would loop). Links
// written before EchoVersion existed are treated as echoes when ledgersync
// ever wrote to this side: a replay then skips rather than risk a loop.
func (s Side) ReplayResyncs(version int64, hash string) bool {
	switch {
	case version != s.Version || hash == s.Hash:
		return false
	case version <= s.EchoVersion:
		return false
	case !s.WrittenAt.IsZero() && s.EchoVersion == 0:
		return false
	}
	return true
}

// EchoField is one field ledgersync wrote: its mapped value before and
// after the write ("" is absent).
type EchoField struct {
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// AddEcho records writes on top of those not yet seen coming back: a
// field keeps its first Before, so the record still compares to Hash.
func (s *Side) AddEcho(writes map[string]EchoField) {
	if len(writes) == 0 {
		return
	}
	if s.Echo == nil {
		s.Echo = map[string]EchoField{}
	}
	for f, w := range writes {
		if prev, ok := s.Echo[f]; ok {
			w.Before = prev.Before
		}
		s.Echo[f] = w
	}
}

// FilledFields lists the fields of a mapped record that hold a value.
func FilledFields(fields map[string]string) []string {
	var out []string
	for k, v := range fields {
		if v != "" && !strings.HasPrefix(k, "_") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Cleared lists the fields s filled at its last sync that are empty in
// fields now.
func (s Side) Cleared(fields map[string]string) []string {
	var out []string
	for _, k := range s.Filled {
		if v, mapped := fields[k]; mapped && v == "" {
			out = append(out, k)
		}
	}
	return out
}

// Link joins the two records of one pair.
type Link struct {
	Pair       string                  `json:"pair"`
	Connection string                  `json:"connection"`
	Object     streams.Object          `json:"object"`
	MatchKey   string                  `json:"match_key,omitempty"`
	Sides      map[streams.System]Side `json:"sides"`
	UpdatedAt  time.Time               `json:"updated_at"`
}

// Origin is the system whose record the pair was first seen from (pairs
// are named after it): for invoices, where the invoice was made.
func (l Link) Origin() streams.System {
	sys, _, _ := strings.Cut(l.Pair, "-")
	return streams.System(sys)
}

// clone copies l deeply enough that editing the copy leaves l as it was.
func (l Link) clone() Link {
	l.Sides = maps.Clone(l.Sides)
	if l.Sides == nil {
		l.Sides = map[streams.System]Side{}
	}
	return l
}

// Other returns the other system.
func Other(s streams.System) streams.System {
	if s == streams.SystemHubSpot {
		return streams.SystemQBO
	}
	return streams.SystemHubSpot
}

// Store reads and writes links.
type Store struct {
	links, index *bucket
	now          func() time.Time
}

// NewStore returns a store on the links and link_index buckets. With nc
// (the connection the buckets were opened on), the hot reads and writes
// skip nats.go's KeyValue (see bucket).
func NewStore(links, index jetstream.KeyValue, nc *nats.Conn) *Store {
	return &Store{links: newBucket(links, nc), index: newBucket(index, nc), now: time.Now}
}

// plainID reports whether id is 1 to 64 of A-Z, a-z, 0-9, _ and -, which
// go into a key as they are. A loop, not a regexp: it runs several times
// for every record each stage handles.
func plainID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func safe(id string) string {
	if plainID(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:12])
}

func linkKey(conn string, object streams.Object, pair string) string {
	return conn + "." + string(object) + "." + pair
}

func idKey(conn string, object streams.Object, system streams.System, id string) string {
	return conn + "." + string(object) + ".id." + string(system) + "." + safe(id)
}

func matchKey(conn string, object streams.Object, key string) string {
	sum := sha256.Sum256([]byte(key))
	return conn + "." + string(object) + ".match." + hex.EncodeToString(sum[:16])
}

// Get returns a link and its revision.
func (s *Store) Get(ctx context.Context, conn string, object streams.Object, pair string) (Link, uint64, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	e, err := s.links.get(ctx, linkKey(conn, object, pair))
	if err != nil {
		return Link{}, 0, err
	}
	var l Link
	if err := json.Unmarshal(e.value, &l); err != nil {
		return Link{}, 0, fmt.Errorf("link %s: %w", pair, err)
	}
	if l.Sides == nil {
		l.Sides = map[streams.System]Side{}
	}
	return l, e.revision, nil
}

// Resolve finds the link of record id on system, or makes one. A record
// seen for the first time whose match key is claimed by a record of the
// other side joins that link (an existing customer with the email is
// linked, never duplicated).
func (s *Store) Resolve(ctx context.Context, conn string, object streams.Object, system streams.System, id, match string) (Link, uint64, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	l, rev, _, err := s.resolve(ctx, conn, object, system, id, match, false, nil)
	return l, rev, err
}

// ResolveCommit is Resolve followed by CommitAt with edit, one write
// shorter for a record seen the first time: its new link is created with
// edit already applied. edit sees the link as it stands and may run more
// than once (a compare-and-set conflict, a record that joins another
// link), so whatever it decides must be decided inside it.
func (s *Store) ResolveCommit(ctx context.Context, conn string, object streams.Object, system streams.System, id, match string,
	edit func(*Link) error) (Link, error) {
	return s.resolveCommit(ctx, conn, object, system, id, match, false, edit)
}

// ResolveCommitFirstSight is ResolveCommit for a record that has most
// likely never been seen (one a first sync reads): it creates the link
// named after the record at once instead of looking the record up first,
// one read shorter for each new record. A record seen before costs a
// refused create more than ResolveCommit; one that joined another link
// at its first sight, a create and a delete more (the link named after it
// is made again and removed).
func (s *Store) ResolveCommitFirstSight(ctx context.Context, conn string, object streams.Object, system streams.System, id, match string,
	edit func(*Link) error) (Link, error) {
	return s.resolveCommit(ctx, conn, object, system, id, match, true, edit)
}

func (s *Store) resolveCommit(ctx context.Context, conn string, object streams.Object, system streams.System, id, match string,
	firstSight bool, edit func(*Link) error) (Link, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	l, rev, committed, err := s.resolve(ctx, conn, object, system, id, match, firstSight, edit)
	if err != nil || committed {
		return l, err
	}
	return s.CommitAt(ctx, l, rev, edit)
}

// resolve is Resolve; with edit, a link it creates is created edited
// (committed true), and any other link is returned as read, to commit.
// firstSight skips the lookup until the create says the record has a link.
func (s *Store) resolve(ctx context.Context, conn string, object streams.Object, system streams.System, id, match string,
	firstSight bool, edit func(*Link) error) (Link, uint64, bool, error) {
	if !firstSight {
		if pair, ok, err := s.lookup(ctx, idKey(conn, object, system, id)); err != nil {
			return Link{}, 0, false, err
		} else if ok {
			l, rev, err := s.Get(ctx, conn, object, pair)
			return l, rev, false, err
		}
	}
	// A new pair named after this record. The link exists before any index
	// entry points at it, so whoever finds a claim also finds its link.
	pair := string(system) + "-" + safe(id)
	l := Link{Pair: pair, Connection: conn, Object: object, MatchKey: match, UpdatedAt: s.now().UTC(),
		Sides: map[streams.System]Side{system: {ID: id}}}
	if edit != nil {
		if err := edit(&l); err != nil {
			return Link{}, 0, false, err
		}
	}
	body, err := json.Marshal(l)
	if err != nil {
		return Link{}, 0, false, err
	}
	created, err := s.links.create(ctx, linkKey(conn, object, pair), body)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return Link{}, 0, false, err
	}
	if created == 0 && firstSight {
		// Seen before after all: the lookup skipped above.
		return s.resolve(ctx, conn, object, system, id, match, false, edit)
	}
	holder, err := s.claim(ctx, idKey(conn, object, system, id), pair)
	if err != nil {
		return Link{}, 0, false, err
	}
	if holder != pair {
		// The record belongs to another link (it joined one, or the
		// writer indexed it as the record it created): the link just
		// made for it is nobody's.
		if created != 0 {
			_ = s.links.kv.Delete(ctx, linkKey(conn, object, pair), jetstream.LastRevision(created))
		}
		l, rev, err := s.Get(ctx, conn, object, holder)
		return l, rev, false, err
	}
	if match != "" {
		owner, err := s.claim(ctx, matchKey(conn, object, match), pair)
		if err != nil {
			return Link{}, 0, false, err
		}
		if owner != pair {
			// Another record holds the match key: join its link if that has
			// no record on our side yet. Two records of one side sharing an
			// email stay separate pairs.
			_, err := s.Commit(ctx, conn, object, owner, func(l *Link) error {
				if cur := l.Sides[system].ID; cur != "" && cur != id {
					return errTaken
				}
				sd := l.Sides[system]
				sd.ID = id
				l.Sides[system] = sd
				return nil
			})
			switch {
			case err == nil:
				if _, err := s.index.kv.Put(ctx, idKey(conn, object, system, id), []byte(owner)); err != nil {
					return Link{}, 0, false, err
				}
				_ = s.links.kv.Delete(ctx, linkKey(conn, object, pair))
				l, rev, err := s.Get(ctx, conn, object, owner)
				return l, rev, false, err
			case !errors.Is(err, errTaken):
				return Link{}, 0, false, err
			}
		}
	}
	if created != 0 {
		// Ours, as written: no need to read it back. Should another record
		// join it meanwhile, a Commit at this revision notices.
		return l, created, edit != nil, nil
	}
	l, rev, err := s.Get(ctx, conn, object, pair)
	return l, rev, false, err
}

var errTaken = errors.New("side already linked")

// Of returns the link of record id on system (ok false when the record
// has none yet).
func (s *Store) Of(ctx context.Context, conn string, object streams.Object, system streams.System, id string) (Link, bool, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	pair, ok, err := s.lookup(ctx, idKey(conn, object, system, id))
	if err != nil || !ok {
		return Link{}, false, err
	}
	l, _, err := s.Get(ctx, conn, object, pair)
	if err != nil {
		return Link{}, false, err
	}
	return l, true, nil
}

// Index records that id on system belongs to pair (after a remote create).
func (s *Store) Index(ctx context.Context, conn string, object streams.Object, system streams.System, id, pair string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	_, err := s.claim(ctx, idKey(conn, object, system, id), pair)
	return err
}

// claim writes key -> pair unless the key exists; it returns the holder.
func (s *Store) claim(ctx context.Context, key, pair string) (string, error) {
	if _, err := s.index.create(ctx, key, []byte(pair)); err == nil {
		return pair, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", err
	}
	holder, ok, err := s.lookup(ctx, key)
	if err != nil {
		return "", err
	}
	if !ok {
		return s.claim(ctx, key, pair) // deleted in between
	}
	return holder, nil
}

func (s *Store) lookup(ctx context.Context, key string) (string, bool, error) {
	e, err := s.index.get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(e.value), true, nil
}

// CommitAt is Commit starting from a link already read at rev: it writes
// without reading first and falls back to Commit if the link moved on.
func (s *Store) CommitAt(ctx context.Context, l Link, rev uint64, edit func(*Link) error) (Link, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	next := l.clone()
	if err := edit(&next); err != nil {
		return Link{}, err
	}
	next.UpdatedAt = s.now().UTC()
	body, err := json.Marshal(next)
	if err != nil {
		return Link{}, err
	}
	_, err = s.links.update(ctx, linkKey(l.Connection, l.Object, l.Pair), body, rev)
	switch {
	case err == nil:
		return next, nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return s.Commit(ctx, l.Connection, l.Object, l.Pair, edit)
	}
	return Link{}, err
}

// Commit applies edit to the link under compare-and-set, retrying when
// another writer committed first.
func (s *Store) Commit(ctx context.Context, conn string, object streams.Object, pair string, edit func(*Link) error) (Link, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	for {
		l, rev, err := s.Get(ctx, conn, object, pair)
		if err != nil {
			return Link{}, err
		}
		if err := edit(&l); err != nil {
			return Link{}, err
		}
		l.UpdatedAt = s.now().UTC()
		body, err := json.Marshal(l)
		if err != nil {
			return Link{}, err
		}
		_, err = s.links.update(ctx, linkKey(conn, object, pair), body, rev)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return Link{}, err
		}
	}
}
