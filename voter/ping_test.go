package voter

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// cPingPacket lays out chan_voter's ping packet as its packed struct is
// in memory on 64-bit Linux: VOTER_PACKET_HEADER (network order), then
// unsigned int seqno, struct timeval txtime, struct timeval starttime
// (host order, little endian) and char filler[128] = seqno + i.
func cPingPacket(sec, nsec uint32, chal string, digest, seq uint32, tx, start time.Time) []byte {
	var b bytes.Buffer
	be, le := binary.BigEndian, binary.LittleEndian
	_ = binary.Write(&b, be, sec)
	_ = binary.Write(&b, be, nsec)
	var ch [10]byte
	copy(ch[:], chal)
	b.Write(ch[:])
	_ = binary.Write(&b, be, digest)
	_ = binary.Write(&b, be, uint16(5))
	_ = binary.Write(&b, le, seq)
	for _, t := range []time.Time{tx, start} {
		_ = binary.Write(&b, le, t.Unix())
		_ = binary.Write(&b, le, int64(t.Nanosecond()/1000))
	}
	for i := 0; i < 128; i++ {
		b.WriteByte(byte(int(seq&0xff) + i))
	}
	return b.Bytes()
}

// pingGroup is an offline server (challenge 12345678) whose GPS client g
// is connected at 127.0.0.1:4000 with master time 1700000000.5.
func pingGroup(t *testing.T) (*group, *client) {
	t.Helper()
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"g": cl("gpw"), "m": {Password: "mpw", Master: true}})
	cfg.Challenge = "12345678"
	g := offlineGroup(t, map[string]*Config{"x": cfg})
	c := g.clients[0]
	c.heard, c.respDigest = true, Digest([]byte("999"), "hostpw")
	c.setAddr(netip.MustParseAddrPort("127.0.0.1:4000"))
	g.masterSec, g.masterNsec = 1700000000, 500000000
	return g, c
}

// The pings the server sends are byte for byte chan_voter's: 188 bytes,
// one every 250 ms, seqno from 1, starttime = the first ping's txtime.
func TestPingPacketsAsChanVoter(t *testing.T) {
	g, c := pingGroup(t)
	if _, err := g.startPing(c.inst, "g", 2); err != nil {
		t.Fatal(err)
	}
	t0 := emitNow
	g.sendPings(t0)
	first := one(t, g)
	want := cPingPacket(1700000000, 500000000, "12345678", c.respDigest, 1, t0, t0)
	if !bytes.Equal(first, want) {
		t.Fatalf("ping 1:\n got % x\nwant % x", first, want)
	}
	g.sendPings(t0.Add(240 * time.Millisecond))
	if n := len(sent(g)); n != 0 {
		t.Fatalf("%d pings before 250 ms", n)
	}
	t1 := t0.Add(250 * time.Millisecond)
	g.sendPings(t1)
	if got, want := one(t, g), cPingPacket(1700000000, 500000000, "12345678", c.respDigest, 2, t1, t0); !bytes.Equal(got, want) {
		t.Fatalf("ping 2:\n got % x\nwant % x", got, want)
	}
	// echoes as a board sends them: the body back under its own header
	echo := func(p []byte, at time.Time) {
		h := Header{Challenge: MakeChallenge("999"), Digest: c.digest, Type: TypePing}
		g.handle(append(AppendHeader(nil, &h), p[HeaderLen:]...), c.addr, at)
	}
	run := c.ping
	echo(first, t0.Add(30*time.Millisecond))
	echo(cPingPacket(0, 0, "", 0, 2, t1, t0), t1.Add(10*time.Millisecond))
	res := <-run.done
	if res.Sent != 2 || res.Received != 2 || res.BestMS != 10 || res.WorstMS != 30 || res.AvgMS != 20 ||
		res.ReceivedPct != 100 || res.TimedOut || c.ping != nil {
		t.Errorf("result %+v", res)
	}
}

// A ping of another sequence (other starttime) is ignored; with no echo
// the sequence ends 3 s after the last ping went out, timed out.
func TestPingTimeout(t *testing.T) {
	g, c := pingGroup(t)
	run, err := g.startPing(c.inst, "g", 1)
	if err != nil {
		t.Fatal(err)
	}
	g.sendPings(emitNow)
	sent(g)
	h := Header{Challenge: MakeChallenge("999"), Digest: c.digest, Type: TypePing}
	old := cPingPacket(0, 0, "", 0, 1, emitNow, emitNow.Add(-time.Hour))
	g.handle(append(AppendHeader(nil, &h), old[HeaderLen:]...), c.addr, emitNow.Add(5*time.Millisecond))
	g.sendPings(emitNow.Add(3 * time.Second))
	if c.ping == nil {
		t.Fatal("ended after 3 s")
	}
	g.sendPings(emitNow.Add(3*time.Second + 10*time.Millisecond))
	res := <-run.done
	if !res.TimedOut || res.Received != 0 || res.Sent != 1 {
		t.Errorf("result %+v", res)
	}
	if _, err := g.startPing(c.inst, "nobody", 1); err == nil {
		t.Error("pinging an unknown client worked")
	}
	c.heard = false
	if _, err := g.startPing(c.inst, "g", 1); err == nil {
		t.Error("pinging a client that is not connected worked")
	}
}

// `voter ping` end to end: the admin endpoint pings a simulated board
// over real UDP sockets and answers with chan_voter's statistics.
func TestPingEndToEnd(t *testing.T) {
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", "",
		map[string]*ClientConfig{"gps": {Password: "mpw", Master: true}, "alice": cl("apw")})})
	m := sim("gps", "mpw", srv.Addr("main"))
	m.Master = true
	s := startSim(t, m, sim("alice", "apw", srv.Addr("main")))
	testutil.Eventually(t, 5*time.Second, "clients connected", s.Connected)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PingPath, srv.servePing)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	resp, err := http.Post(hs.URL+PingPath+"?client=alice&count=4", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res PingResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if res.Client != "alice" || res.Sent != 4 || res.Received != 4 || res.ReceivedPct != 100 || res.TimedOut {
		t.Errorf("result %+v", res)
	}
	if _, err := srv.Ping(context.Background(), "main", "bob", 1); err == nil {
		t.Error("ping of an unknown client worked")
	}
}

// Any 164-byte ping body from a client being pinged is taken or ignored
// without a crash, and the sequence still ends.
func FuzzPingReply(f *testing.F) {
	f.Add(cPingPacket(0, 0, "", 0, 1, emitNow, emitNow)[HeaderLen:])
	f.Add(make([]byte, PingBodyLen))
	f.Fuzz(func(t *testing.T, body []byte) {
		g, c := pingGroup(t)
		run, err := g.startPing(c.inst, "g", 1)
		if err != nil {
			t.Fatal(err)
		}
		g.sendPings(emitNow)
		sent(g)
		if len(body) > PingBodyLen {
			body = body[:PingBodyLen]
		}
		body = append(body, make([]byte, PingBodyLen-len(body))...)
		h := Header{Challenge: MakeChallenge("999"), Digest: c.digest, Type: TypePing}
		g.handle(append(AppendHeader(nil, &h), body...), c.addr, emitNow.Add(time.Millisecond))
		if c.ping != nil {
			g.sendPings(emitNow.Add(4 * time.Second))
		}
		if r := <-run.done; r.Sent != 1 || r.Received > 1 {
			t.Fatalf("result %+v", r)
		}
	})
}

// A client that disconnects in the middle of a sequence ends it (timed
// out) instead of leaving `voter ping` waiting.
func TestPingClientGone(t *testing.T) {
	g, c := pingGroup(t)
	run, err := g.startPing(c.inst, "g", 8)
	if err != nil {
		t.Fatal(err)
	}
	g.sendPings(emitNow)
	c.disconnect()
	g.sendPings(emitNow.Add(250 * time.Millisecond))
	if out := sent(g); len(out) != 1 {
		t.Errorf("%d pings sent, want only the one before the disconnect", len(out))
	}
	if r := <-run.done; !r.TimedOut || r.Sent != 1 {
		t.Errorf("result %+v", r)
	}
}
