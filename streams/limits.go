package streams

// LimitStreamBytes caps the MaxBytes of every byte-limited stream at max
// (max <= 0 leaves them as they are).
func (t *Topology) LimitStreamBytes(max int64) {
	if max <= 0 {
		return
	}
	for i := range t.Streams {
		if b := t.Streams[i].Config.MaxBytes; b > max {
			t.Streams[i].Config.MaxBytes = max
		}
	}
}

// FitStorage caps the byte-limited streams so that together they reserve
// at most nine tenths of store, the JetStream storage of one server
// (every replica of a stream reserves its MaxBytes on its own server).
// It returns the cap, or 0 when the streams fit as they are.
//
// JetStream refuses a stream whose MaxBytes do not fit in what the
// server has left, and a server started without a limit takes three
// quarters of the free disk: a laptop with 60 GB free could not start the
// all-in-one process while five streams kept 10 GiB each.
func (t *Topology) FitStorage(store int64) int64 {
	if store <= 0 {
		return 0
	}
	var total int64
	limited := 0
	for _, s := range t.Streams {
		if s.Config.MaxBytes > 0 {
			total += s.Config.MaxBytes
			limited++
		}
	}
	budget := store / 10 * 9
	if limited == 0 || total <= budget {
		return 0
	}
	per := budget / int64(limited)
	t.LimitStreamBytes(per)
	return per
}
