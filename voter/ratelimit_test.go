package voter

import (
	"net/netip"
	"testing"
	"time"
)

// The limiter answers each source at most once per authReplyEvery, and
// again once that time has passed.
func TestReplyLimiter(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:1667")
	b := netip.MustParseAddrPort("192.0.2.2:1667")
	t0 := time.Unix(1_800_000_000, 0)
	steps := []struct {
		name string
		to   netip.AddrPort
		at   time.Duration
		want bool
	}{
		{"first", a, 0, true},
		{"again at once", a, 0, false},
		{"other source", b, time.Millisecond, true},
		{"just before the interval", a, authReplyEvery - time.Nanosecond, false},
		{"after the interval", a, authReplyEvery, true},
		{"other after its interval", b, authReplyEvery + time.Millisecond, true},
		{"long after", a, 10 * authReplyEvery, true},
		{"then limited again", a, 10*authReplyEvery + time.Millisecond, false},
		{"clock stepped back", a, 0, true},
	}
	var l replyLimiter
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if got := l.allow(s.to, t0.Add(s.at)); got != s.want {
				t.Fatalf("allow = %v, want %v", got, s.want)
			}
		})
	}
}

// benchFlood sends from a new source every step: with step just under
// authReplyEvery/replyLimiterMax the table stays full and about one entry
// expires per packet.
func benchFlood(b *testing.B, step time.Duration) {
	var l replyLimiter
	now := time.Unix(1_800_000_000, 0)
	b.ReportAllocs()
	for i := range b.N {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(i))
		l.allow(a, now)
		now = now.Add(step)
	}
}

// A flood of spoofed sources tuned so that about one entry expires per
// packet: the old limiter scanned its whole table (4,096 entries) for
// every datagram, under the socket's lock.
func BenchmarkReplyLimiterTunedFlood(b *testing.B) {
	benchFlood(b, authReplyEvery/(replyLimiterMax-1))
}

// A flood far faster than the table can hold.
func BenchmarkReplyLimiterFastFlood(b *testing.B) { benchFlood(b, time.Microsecond) }

// What a stranger's datagram costs the receive path (lock held): decode,
// digest, limiter, and the queued 25-byte reply; from new sources (each
// answered) and from one source (limited).
func BenchmarkHandleStranger(b *testing.B) {
	for _, tc := range []struct {
		name   string
		digest uint32
		fresh  bool
	}{{"digest0-new-sources", 0, true}, {"digest0-one-source", 0, false}, {"unknown-digest-new-sources", 0xdeadbeef, true}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"a": cl("apw")})
			s, err := New(map[string]*Config{"x": cfg}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			g := s.groups[0]
			g.q = newSendQueue()
			raw := (&Packet{Header: Header{Challenge: MakeChallenge("123456789"), Digest: tc.digest}, Kind: TypeAuth}).Append(nil)
			now := time.Unix(1_800_000_000, 0)
			from := netip.MustParseAddrPort("192.0.2.1:1667")
			b.ReportAllocs()
			for i := range b.N {
				if tc.fresh {
					from = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1667)
				}
				g.handle(raw, from, now)
				now = now.Add(10 * time.Microsecond)
				g.q.n = 0 // the reply is built; sending it is the kernel's cost
			}
		})
	}
}
