package peer

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func nonceN(i int) [16]byte {
	var n [16]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	return n
}

func TestReplayCache(t *testing.T) {
	type step struct {
		nonce int
		sent  time.Duration // after t0
		now   time.Duration
		want  string // "" accepted, else a word of the refusal
	}
	cases := []struct {
		name  string
		max   int
		steps []step
	}{
		{"fresh then replayed", 10, []step{{1, 0, 0, ""}, {1, 0, time.Second, "replayed"}, {2, 0, time.Second, ""}}},
		{"clock window", 10, []step{{1, 0, 61 * time.Second, "clocks"}, {2, 61 * time.Second, 0, "clocks"},
			{3, 0, 60 * time.Second, ""}}},
		{"replay after the window is refused by the clock", 10, []step{{1, 0, 0, ""}, {1, 0, 61 * time.Second, "clocks"}}},
		{"signed before the cache existed (a restart)", 10, []step{{1, -time.Second, 0, "restarted"}}},
		{"evicted nonce still refused", 2, []step{{1, 0, 0, ""}, {2, time.Millisecond, 0, ""},
			{3, 2 * time.Millisecond, 0, ""}, // evicts 1: floor = t0
			{1, 0, time.Second, "more than 2 requests"}, {4, 3 * time.Millisecond, time.Second, ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := NewReplayCache(60*time.Second, c.max)
			// after the cache's creation: a t0 taken at the start of the
			// test was before it when the machine was slow
			t0 := time.Now().Add(time.Millisecond)
			for i, s := range c.steps {
				err := rc.Check(nonceN(s.nonce), t0.Add(s.sent), t0.Add(s.now))
				switch {
				case s.want == "" && err != nil:
					t.Fatalf("step %d: refused: %v", i, err)
				case s.want != "" && (err == nil || !strings.Contains(err.Error(), s.want)):
					t.Fatalf("step %d: got %v, want a refusal with %q", i, err, s.want)
				}
			}
		})
	}
}

// TestReplayCacheBounded: a flood of fresh nonces never grows the cache
// beyond its bound, and expired nonces are forgotten.
func TestReplayCacheBounded(t *testing.T) {
	rc := NewReplayCache(time.Minute, 1000)
	t0 := time.Now().Add(time.Millisecond)
	for i := range 100_000 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		if err := rc.Check(nonceN(i), at, at); err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
		if rc.Len() > 1000 {
			t.Fatalf("cache grew to %d", rc.Len())
		}
	}
	later := t0.Add(time.Hour)
	if err := rc.Check(nonceN(-1), later, later); err != nil || rc.Len() != 1 {
		t.Fatalf("after an hour: %v, %d nonces remembered", err, rc.Len())
	}
	if cap(rc.queue) > 4096 {
		t.Fatalf("queue capacity %d", cap(rc.queue))
	}
}
