package voter

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// testInstance builds an instance (no sockets) with the given clients.
func testInstance(t *testing.T, thresholds string, clients map[string]*ClientConfig) *instance {
	t.Helper()
	cfg := voterCfg("127.0.0.1:0", "", clients)
	cfg.Thresholds = thresholds
	s, err := New(map[string]*Config{"x": cfg}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s.insts["x"]
}

func (in *instance) client(name string) *client {
	for _, c := range in.clients {
		if c.name == name {
			return c
		}
	}
	return nil
}

// frameOf places one frame per client (rssi, audio byte) and votes.
func voteFrame(in *instance, frames map[string][2]byte) string {
	for name, f := range frames {
		c := in.client(name)
		c.heard = true
		c.place(0, f[0], fill(FrameLen, f[1]))
	}
	in.vote(time.Now())
	if in.winner == nil {
		return ""
	}
	return in.winner.name
}

func TestVotePrio(t *testing.T) {
	in := testInstance(t, "", map[string]*ClientConfig{
		"alice": cl("a"), "bob": {Password: "b", Prio: 1}, "carol": {Password: "c", Prio: -1}, "dave": cl("d")})
	cases := []struct {
		frames map[string][2]byte
		want   string
		audio  byte
	}{
		{map[string][2]byte{"alice": {200, 1}, "bob": {10, 2}, "carol": {255, 3}}, "bob", 2},  // higher prio wins
		{map[string][2]byte{"alice": {200, 1}, "bob": {0, 2}, "carol": {255, 3}}, "alice", 1}, // prio needs RSSI; -1 locked out
		{map[string][2]byte{"alice": {90, 1}, "dave": {90, 4}}, "alice", 1},                   // tie: earlier client
		{map[string][2]byte{"alice": {90, 1}, "dave": {91, 4}}, "dave", 4},
		{map[string][2]byte{"carol": {255, 3}}, "", 0xff},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			in.lastWon, in.winner = nil, nil
			if got := voteFrame(in, c.frames); got != c.want || !allBytes(in.frame[:], c.audio) {
				t.Errorf("case %d: winner %q audio %#x, want %q %#x", i, got, in.frame[0], c.want, c.audio)
			}
		})
	}
}

// Thresholds and linger follow chan_voter's code: the previous winner is
// kept while it reaches a threshold (for at most count frames), then the
// vote lingers on it for linger frames after it falls below all of them.
func TestVoteThresholdsLinger(t *testing.T) {
	in := testInstance(t, "150=3:2", map[string]*ClientConfig{"alice": cl("a"), "bob": cl("b")})
	seq := [][2]byte{{200, 100}, {160, 200}, {160, 200}, {160, 200}, {160, 200}, {160, 200}, // count runs out
		{160, 200}, {160, 100}, {160, 100}, {160, 100}} // bob falls below: linger 2 frames
	want := []string{"alice", "alice", "alice", "alice", "alice", "bob", "bob", "bob", "bob", "alice"}
	for i, s := range seq {
		got := voteFrame(in, map[string][2]byte{"alice": {s[0], 1}, "bob": {s[1], 2}})
		if got != want[i] {
			t.Fatalf("frame %d: winner %q, want %q (sequence %v)", i, got, want[i], want)
		}
	}
}

func TestMixSummed(t *testing.T) {
	in := testInstance(t, "", map[string]*ClientConfig{"m1": cl("a"), "m2": cl("b")})
	in.client("m1").mix, in.client("m2").mix = true, true
	a, b := LinearToULaw(1000), LinearToULaw(-300)
	if got := voteFrame(in, map[string][2]byte{"m1": {100, a}, "m2": {50, b}}); got != "m1" {
		t.Fatalf("carrier %q, want m1", got)
	}
	want := LinearToULaw(ULawToLinear(a) + ULawToLinear(b))
	if !allBytes(in.frame[:], want) {
		t.Fatalf("mixed %#x, want %#x", in.frame[0], want)
	}
}

func TestULawRoundTrip(t *testing.T) {
	for i := 0; i < 256; i++ {
		u := byte(i)
		if u == 0x7f { // negative zero encodes as positive zero
			continue
		}
		if got := LinearToULaw(ULawToLinear(u)); got != u {
			t.Fatalf("%#x -> %d -> %#x", u, ULawToLinear(u), got)
		}
	}
	if ULawToLinear(0xff) != 0 || ULawToLinear(0x00) != -32124 || ULawToLinear(0x80) != 32124 {
		t.Fatal("table endpoints")
	}
}

// A frame that wraps around the end of the ring comes back whole.
func TestBufferWrap(t *testing.T) {
	c := newClient("w", nil, cl("w"), []byte("1"), 1280)
	frame := make([]byte, FrameLen)
	for i := range frame {
		frame[i] = byte(i)
	}
	c.drain = 1280 - 80
	c.place(0, 7, frame)
	got := make([]byte, FrameLen)
	if r := c.readFrame(got, true); r != 7 || !bytes.Equal(got, frame) {
		t.Fatalf("rssi %d frame %v", r, got)
	}
	if r := c.readFrame(got, false); r != 0 || !allBytes(got, 0xff) {
		t.Fatalf("not cleared: rssi %d", r)
	}
	c.advance()
	if c.drain != 80 {
		t.Fatalf("drain %d", c.drain)
	}
}

// A frame in which no client has signal keeps the threshold and linger
// state (chan_voter does not reset it): the linger goes on after it.
func TestLingerSurvivesSilentFrame(t *testing.T) {
	in := testInstance(t, "150=0:2", map[string]*ClientConfig{"alice": cl("a"), "bob": cl("b")})
	seq := [][2]byte{{200, 100}, {200, 100}, {100, 160}, {0, 0}, {100, 160}, {100, 160}}
	want := []string{"alice", "alice", "alice", "", "alice", "bob"}
	for i, s := range seq {
		got := voteFrame(in, map[string][2]byte{"alice": {s[0], 1}, "bob": {s[1], 2}})
		if got != want[i] {
			t.Fatalf("frame %d: winner %q, want %q (sequence %v)", i, got, want[i], want)
		}
	}
}

// The master timing source is the first configured master heard within
// 100 ms: a second master drives timing only while the first is silent,
// and the first takes over again as soon as it is back.
func TestMasterChoiceFirstConfigured(t *testing.T) {
	g := offlineGroup(t, map[string]*Config{"x": voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{
		"m1": {Password: "m1pw", Master: true}, "m2": {Password: "m2pw", Master: true}})})
	m1, m2 := g.clients[0], g.clients[1]
	now := time.Unix(1700000000, 0)
	hear := func(c *client, at time.Time) bool {
		c.heard, c.lastHeard = true, at
		return g.currentMaster(c, at)
	}
	if !hear(m2, now) {
		t.Fatal("m2 alone is not the master")
	}
	if !hear(m1, now.Add(10*time.Millisecond)) || g.master != m1 {
		t.Fatal("m1 heard again does not take over from m2")
	}
	if hear(m2, now.Add(20*time.Millisecond)) {
		t.Error("m2 drives timing while m1 is live")
	}
	if !hear(m2, now.Add(200*time.Millisecond)) {
		t.Error("m2 does not take over when m1 is silent for more than 100 ms")
	}
}

// A mix client with prio = -1 in the config is still mixed while no mix
// client has a positive priority (chan_voter skips only a runtime -1
// override); with a positive one it is left out like any lower prio.
func TestMixPrioMinusOne(t *testing.T) {
	in := testInstance(t, "", map[string]*ClientConfig{"m1": {Password: "a", Prio: -1}, "m2": cl("b"), "m3": cl("c")})
	for _, c := range in.clients {
		c.mix = true
	}
	a, b := LinearToULaw(1000), LinearToULaw(-300)
	voteFrame(in, map[string][2]byte{"m1": {100, a}, "m2": {50, b}})
	if want := LinearToULaw(ULawToLinear(a) + ULawToLinear(b)); !allBytes(in.frame[:], want) {
		t.Errorf("prio -1 not mixed: %#x, want %#x", in.frame[0], want)
	}
	in.client("m3").cfg.Prio = 1
	voteFrame(in, map[string][2]byte{"m1": {100, a}, "m3": {50, b}})
	if !allBytes(in.frame[:], b) {
		t.Errorf("with a prio 1 mix client: %#x, want only its audio %#x", in.frame[0], b)
	}
}

// sumBytes and fillBytes agree with byte loops at every length and offset
// (the lanes are flushed before they overflow: 255s over 2 KiB).
func TestSumAndFillBytes(t *testing.T) {
	b := make([]byte, 2100)
	for i := range b {
		b[i] = byte(i*7 + i/3)
	}
	for _, n := range []int{0, 1, 7, 8, 9, 80, 159, 160, 161, 1023, 1024, 2100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			for off := 0; off < 8 && off+n <= len(b); off++ {
				want := 0
				for _, v := range b[off : off+n] {
					want += int(v)
				}
				if got := sumBytes(b[off : off+n]); got != want {
					t.Fatalf("offset %d: sum %d, want %d", off, got, want)
				}
			}
			f := make([]byte, n)
			fillBytes(f, 255)
			if !allBytes(f, 255) || sumBytes(f) != 255*n {
				t.Fatalf("fill/sum of 255s: %d", sumBytes(f))
			}
		})
	}
}
