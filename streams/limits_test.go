package streams_test

import (
	"testing"

	"github.com/ledgersync/ledgersync/streams"
)

func TestStreamsFitTheServersStorage(t *testing.T) {
	topo := streams.Default(1)
	var limited int64
	for _, s := range topo.Streams {
		if s.Config.MaxBytes > 0 {
			limited++
		}
	}
	if per := topo.FitStorage(1 << 50); per != 0 {
		t.Fatalf("a large store lowered the streams to %d bytes", per)
	}
	store := int64(20 << 30)
	per := topo.FitStorage(store)
	if per <= 0 {
		t.Fatal("five streams of 10 GiB were left as they are in a 20 GiB store")
	}
	var total int64
	for _, s := range topo.Streams {
		if s.Config.MaxBytes > per {
			t.Errorf("stream %s keeps %d bytes, over the cap %d", s.Config.Name, s.Config.MaxBytes, per)
		}
		total += s.Config.MaxBytes
	}
	if total > store/10*9 || total < store/10*8 {
		t.Errorf("the streams reserve %d bytes of a %d byte store", total, store)
	}
	topo.LimitStreamBytes(1 << 20)
	for _, s := range topo.Streams {
		if s.Config.MaxBytes > 1<<20 {
			t.Errorf("stream %s keeps %d bytes over the limit", s.Config.Name, s.Config.MaxBytes)
		}
	}
}
