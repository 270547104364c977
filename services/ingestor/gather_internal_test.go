package ingestor

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ledgersync/ledgersync/streams"
)

// TestNoticesDeliveredTogetherAreFetchedTogether: the notices of one
// delivery reach the workers as one group (one fetch), however many
// workers are idle. Before, each idle worker took a notice of its own and
// a first sync's own writes, coming back a few per QBO delivery, cost a
// fetch each.
func TestNoticesDeliveredTogetherAreFetchedTogether(t *testing.T) {
	s := &Service{queue: make(chan notice, 100), queued: map[string]bool{}, ready: make(chan struct{})}
	close(s.ready)
	ctx, cancel := context.WithCancel(context.Background())
	work, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	groups := make(chan []notice)
	done := make(chan struct{})
	go func() { defer close(done); s.gatherNotices(ctx, work, groups) }()

	var mu sync.Mutex
	var got [][]notice
	var workers sync.WaitGroup
	for range 8 { // idle workers, all waiting for work
		workers.Go(func() {
			for g := range groups {
				mu.Lock()
				got = append(got, g)
				mu.Unlock()
			}
		})
	}
	r := readerOf(streams.ObjectInvoice)
	for _, id := range []string{"101", "102", "103", "104", "105"} {
		n := notice{reader: r, system: streams.SystemQBO, account: "realm-1", id: id}
		if !s.markQueued(n) {
			t.Fatalf("notice %s not queued", id)
		}
		s.queue <- n
	}
	// A deletion in the same delivery is a fetch of its own kind.
	s.queue <- notice{reader: r, system: streams.SystemQBO, account: "realm-1", id: "99", deleted: true}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	workers.Wait()
	sort.Slice(got, func(i, j int) bool { return len(got[i]) > len(got[j]) })
	if len(got) != 2 || len(got[0]) != 5 || len(got[1]) != 1 || !got[1][0].deleted {
		t.Fatalf("groups handed to the workers: %d %v; want the 5 changes as one group and the deletion as another", len(got), got)
	}
	// Taken notices may queue again: a change during the fetch is not lost.
	if !s.markQueued(got[0][0]) {
		t.Fatal("a fetched notice is still marked queued")
	}
}
