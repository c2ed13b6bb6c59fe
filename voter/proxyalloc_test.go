package voter

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// The secondary's proxy path, on real sockets, allocates nothing per
// packet once the client is known: recvmmsg, decode, digest lookup,
// encapsulation and sendmmsg to the primary.
func TestProxyPathAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	cfg := &Config{Listen: "127.0.0.1:0", Password: "hostpw", Challenge: "12345678",
		Primary: config.Secret(sink.LocalAddr().String() + ",linkpw"),
		Clients: map[string]*ClientConfig{"c": {Password: "cpw"}}}
	s, err := New(map[string]*Config{"sec": cfg}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	defer s.close()
	g, in := s.groups[0], s.insts["sec"]
	in.link.up, in.link.chal = true, MakeChallenge("555")

	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w, err := newBatchWriter(src, batchLen)
	if err != nil {
		t.Fatal(err)
	}
	const perStep = 8
	p := Packet{Header: Header{Sec: 1, Challenge: MakeChallenge("42"), Digest: Digest([]byte("12345678"), "cpw")},
		Kind: TypeULaw, RSSI: 100, Audio: fill(FrameLen, 1)}
	bufs, to := make([][]byte, perStep), make([]netip.AddrPort, perStep)
	for i := range bufs {
		bufs[i], to[i] = p.Append(nil), s.Addr("sec")
	}
	g.q = g.rq
	now := time.Now()
	step := func() {
		for sent := 0; sent < perStep; {
			n, err := w.write(bufs[sent:], to[sent:])
			if err != nil {
				t.Fatal(err)
			}
			sent += n
		}
		for got := 0; got < perStep; {
			n, err := g.rx.read()
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				b, from := g.rx.msg(i)
				g.handle(b, from, now)
			}
			got += n
		}
		g.rq.flush()
	}
	step() // (AllocsPerRun runs it once more to warm up) the first packet records the client's address and reply digest
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("%v allocations per %d packets, want 0", n, perStep)
	}
	if g.stats.Forwarded != 22*perStep || g.rq.errs.Load() != 0 {
		t.Errorf("forwarded %d, send errors %d; want %d, 0", g.stats.Forwarded, g.rq.errs.Load(), 22*perStep)
	}
	// what reached the primary is the encapsulated packet, from the client's address
	buf := make([]byte, 2048)
	_ = sink.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := sink.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var got Packet
	if err := Decode(buf[:n], &got); err != nil || !got.Proxied || got.Kind != TypeULaw ||
		addrFrom4(got.Proxy.Addr, got.Proxy.Port) != src.LocalAddr().(*net.UDPAddr).AddrPort() ||
		got.Digest != Digest([]byte("555"), "cpw") {
		t.Errorf("primary got %+v (%v)", got.Header, err)
	}
}
