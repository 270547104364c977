package connection

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound is returned for an unknown connection id.
var ErrNotFound = errors.New("connection not found")

// ErrExists is returned when creating an id that is taken.
var ErrExists = errors.New("connection id already exists")

// Store keeps connections in the connections KV bucket; every update is a
// compare-and-set, and services watch the bucket for changes.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// NewStore returns a store on the connections bucket.
func NewStore(kv jetstream.KeyValue) *Store { return &Store{kv: kv, now: time.Now} }

// Create stores a new connection after validating it.
func (s *Store) Create(ctx context.Context, c Connection) (Connection, error) {
	now := s.now().UTC()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.SetupAt.IsZero() {
		c.SetupAt = now
	}
	c.UpdatedAt = now
	if err := c.Validate(); err != nil {
		return Connection{}, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return Connection{}, err
	}
	if _, err := s.kv.Create(ctx, c.ID, body); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Connection{}, fmt.Errorf("%w: %s", ErrExists, c.ID)
		}
		return Connection{}, err
	}
	return c, nil
}

// Get returns a connection and its revision.
func (s *Store) Get(ctx context.Context, id string) (Connection, uint64, error) {
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Connection{}, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Connection{}, 0, err
	}
	var c Connection
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return Connection{}, 0, fmt.Errorf("connection %s: %w", id, err)
	}
	return c, e.Revision(), nil
}

// Update applies edit under compare-and-set, retrying when another writer
// got there first. Locked filters cannot be changed (P6).
func (s *Store) Update(ctx context.Context, id string, edit func(*Connection) error) (Connection, error) {
	for {
		old, rev, err := s.Get(ctx, id)
		if err != nil {
			return Connection{}, err
		}
		// Decode a second copy so the edit cannot touch old's maps.
		next, _, err := s.Get(ctx, id)
		if err != nil {
			return Connection{}, err
		}
		if err := edit(&next); err != nil {
			return Connection{}, err
		}
		next.ID, next.CreatedAt, next.UpdatedAt = old.ID, old.CreatedAt, s.now().UTC()
		if err := lockedUnchanged(old, next); err != nil {
			return Connection{}, err
		}
		if err := next.Validate(); err != nil {
			return Connection{}, err
		}
		body, err := json.Marshal(next)
		if err != nil {
			return Connection{}, err
		}
		_, err = s.kv.Update(ctx, id, body, rev)
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return Connection{}, err
		}
	}
}

// Delete removes a connection (P8).
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, _, err := s.Get(ctx, id); err != nil {
		return err
	}
	return s.kv.Delete(ctx, id)
}

// List returns every connection, by id.
func (s *Store) List(ctx context.Context) ([]Connection, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	out := make([]Connection, 0, len(ids))
	for _, id := range ids {
		c, _, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func lockedUnchanged(old, next Connection) error {
	for object, os := range old.Objects {
		for dir, f := range os.Filters {
			if !f.Locked {
				continue
			}
			if !reflect.DeepEqual(f, next.Objects[object].Filters[dir]) {
				return fmt.Errorf("%s: the %s filter cannot be edited", object, dir)
			}
		}
	}
	return nil
}
