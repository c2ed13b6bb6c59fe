package voter

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A master timing source that asks for mix mode (a board whose PPS setting
// disagrees with `master`, or anyone who saw one of its packets: the flags
// byte is not covered by the digest) is refused and counted every time,
// but logged once a minute, not once per packet.
func TestMasterMixRefusalLoggedOncePerMinute(t *testing.T) {
	var buf bytes.Buffer
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"m": {Password: "mpw", Master: true}})
	cfg.Challenge = "12345678"
	s, err := New(map[string]*Config{"x": cfg}, Options{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	g := s.groups[0]
	g.q = newSendQueue()
	p := Packet{Header: Header{Challenge: MakeChallenge("999"), Digest: Digest([]byte("12345678"), "mpw")},
		Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
	raw := p.Append(nil)
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 100 { // 50 s of retries every 500 ms, then one a minute later
		g.handle(raw, from, t0.Add(time.Duration(i)*500*time.Millisecond))
	}
	g.handle(raw, from, t0.Add(time.Minute))
	if n := strings.Count(buf.String(), "asked for mix mode"); n != 2 {
		t.Errorf("%d log lines, want 2:\n%s", n, buf.String())
	}
	if got := g.stats.AuthRejected; got != 101 {
		t.Errorf("auth_rejected %d, want 101", got)
	}
	if n := len(sent(g)); n != 0 {
		t.Errorf("%d replies, want none", n)
	}
}

// A session that is made to end and start again per packet (without a
// master: a GPS-timed auth request, refused, then a mix-mode one,
// accepted) writes one "client connected" line per 10 s, and the next
// line counts the sessions it left out.
func TestConnectLogBounded(t *testing.T) {
	var buf bytes.Buffer
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"a": cl("apw")})
	cfg.Challenge = "12345678"
	s, err := New(map[string]*Config{"x": cfg}, Options{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	g := s.groups[0]
	g.q = newSendQueue()
	h := Header{Challenge: MakeChallenge("999"), Digest: Digest([]byte("12345678"), "apw")}
	plain := (&Packet{Header: h, Kind: TypeAuth}).Append(nil)
	mix := (&Packet{Header: h, Kind: TypeAuth, HasFlags: true, Flags: FlagMix}).Append(nil)
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 100 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		g.handle(plain, from, at)
		g.handle(mix, from, at)
		sent(g) // the replies: an offline group's queue has no writer
	}
	g.handle(plain, from, t0.Add(connectLogEvery))
	g.handle(mix, from, t0.Add(connectLogEvery))
	out := buf.String()
	if n := strings.Count(out, "client connected"); n != 2 || !strings.Contains(out, "sessions_unlogged=99") {
		t.Errorf("%d lines:\n%s", n, out)
	}
	if !g.clients[0].heard {
		t.Error("the last mix-mode request did not connect the client")
	}
}

// A master timing source that comes and goes every few packets (anyone
// holding its digest can do that: the body is not covered) writes one
// "lost master timing source" line per 10 s, and the next counts those
// left out. It wrote one per loss: about one every 80 ms.
func TestLostMasterLoggedOncePerTenSeconds(t *testing.T) {
	var buf bytes.Buffer
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"m": {Password: "mpw", Master: true}})
	s, err := New(map[string]*Config{"x": cfg}, Options{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	g := s.groups[0]
	g.q = newSendQueue()
	t0 := time.Unix(1_800_000_000, 0)
	losses := 0
	for i := range 250 { // 5 s of 20 ms ticks: the master "heard" again every fifth
		if i%5 == 0 {
			g.masterSec, g.lastMaster = 1, g.count
		}
		before := g.masterSec
		g.tick(t0.Add(time.Duration(i) * 20 * time.Millisecond))
		if before != 0 && g.masterSec == 0 {
			losses++
		}
	}
	if losses < 40 {
		t.Fatalf("only %d losses driven", losses)
	}
	if n := strings.Count(buf.String(), "lost master timing source"); n != 1 {
		t.Errorf("%d log lines for %d losses in 5 s, want 1:\n%s", n, losses, buf.String())
	}
}
