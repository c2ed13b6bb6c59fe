package voter

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// fakePrimary is a hand-written legacy primary: it answers the liveness
// link like chan_voter and hands every other datagram to the test.
type fakePrimary struct {
	conn *net.UDPConn
	got  chan []byte
}

func newFakePrimary(t *testing.T) *fakePrimary {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePrimary{conn: c, got: make(chan []byte, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			b := append([]byte(nil), buf[:n]...)
			if typ := binary.BigEndian.Uint16(b[22:24]); n <= 25 && (typ == 0 || typ == 2) {
				// reply: challenge "4242", digest CRC(their challenge + host password)
				r := rawHeader(0, 0, "4242", Digest(bytes.TrimRight(b[8:18], "\x00"), "hostpw"), 0)
				_, _ = c.WriteToUDP(append(r, 32), from)
				continue
			}
			f.got <- b
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return f
}

// The secondary's packets to and from a legacy primary, byte for byte.
func TestSecondaryWireFormat(t *testing.T) {
	prim := newFakePrimary(t)
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{
		"site": {Password: "sitepw", NoDeemp: true, NoPLFilter: true}})
	cfg.Primary = config.Secret(prim.conn.LocalAddr().String() + ",linkpw")
	cfg.Challenge = "31337"
	tm := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"gps": {Password: "gpw", Master: true}})
	tm.Challenge = "31337"
	srv := startServer(t, map[string]*Config{"sec": cfg, "timing": tm})
	testutil.Eventually(t, 5*time.Second, "link up", func() bool { return srv.Status()[0].Peer.Connected })

	client, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(srv.Addr("sec")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	audio := fill(FrameLen, 0x5a)
	pkt := append(rawHeader(1700000000, 20000000, "777", Digest([]byte("31337"), "sitepw"), 1), 150)
	pkt = append(pkt, audio...)
	if _, err := client.Write(pkt); err != nil {
		t.Fatal(err)
	}
	var fwd []byte
	select {
	case fwd = <-prim.got:
	case <-time.After(3 * time.Second):
		t.Fatal("nothing forwarded to the primary")
	}
	ca := client.LocalAddr().(*net.UDPAddr)
	want := rawHeader(1700000000, 20000000, "777", Digest([]byte("4242"), "sitepw"), 0xF000)
	want = append(want, rawProxy([4]byte(ca.IP.To4()), uint16(ca.Port), 1, FlagFlat|FlagNoCTCSS, "31337")...)
	want = append(append(want, 150), audio...)
	if !bytes.Equal(fwd, want) {
		t.Fatalf("forwarded packet\n got % x\nwant % x", fwd, want)
	}

	// ADPCM is forwarded too (188 bytes in, 207 out).
	adpcm := append(rawHeader(1700000000, 40000000, "777", Digest([]byte("31337"), "sitepw"), 3), 99)
	adpcm = append(adpcm, fill(ADPCMLen, 0x17)...)
	if _, err := client.Write(adpcm); err != nil {
		t.Fatal(err)
	}
	select {
	case fwd = <-prim.got:
	case <-time.After(3 * time.Second):
		t.Fatal("ADPCM not forwarded")
	}
	if len(fwd) != 207 || binary.BigEndian.Uint16(fwd[30:32]) != 3 || !bytes.Equal(fwd[43:], adpcm[24:]) {
		t.Fatalf("forwarded ADPCM % x", fwd)
	}

	// The primary's keepalive for the client, encapsulated (43 bytes).
	ka := rawHeader(1700000001, 0, "4242", Digest([]byte("31337"), "sitepw"), 0xF000)
	ka = append(ka, rawProxy([4]byte(ca.IP.To4()), uint16(ca.Port), 2, 0, "")...)
	if _, err := prim.conn.WriteToUDP(ka, net.UDPAddrFromAddrPort(srv.Addr("sec"))); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	_ = client.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, err := client.Read(buf)
		if err != nil {
			t.Fatalf("no relayed keepalive: %v", err)
		}
		wantKA := rawHeader(1700000001, 0, "31337", Digest([]byte("777"), "hostpw"), 2)
		if n == HeaderLen && bytes.Equal(buf[:n], wantKA) {
			break
		}
		if n == HeaderLen && binary.BigEndian.Uint16(buf[22:24]) == 2 {
			t.Fatalf("relayed keepalive\n got % x\nwant % x", buf[:n], wantKA)
		}
	}
}

// A redund primary's packets to a client behind a legacy secondary.
func TestPrimaryWireFormat(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"site": cl("sitepw")})
	cfg.IsPrimary, cfg.Challenge = true, "4242"
	srv := startServer(t, map[string]*Config{"pri": cfg})
	sec, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(srv.Addr("pri")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sec.Close() })
	// What a legacy secondary forwards for client 192.0.2.9:1667.
	in := rawHeader(1700000000, 0, "777", Digest([]byte("4242"), "sitepw"), 0xF000)
	in = append(in, rawProxy([4]byte{192, 0, 2, 9}, 1667, 2, 0, "31337\x00ab")...) // garbage after the NUL
	if _, err := sec.Write(in); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	_ = sec.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := sec.Read(buf)
	if err != nil {
		t.Fatalf("no keepalive for the proxied client: %v", err)
	}
	got := buf[:n]
	want := rawHeader(0, 0, "4242", Digest([]byte("31337"), "sitepw"), 0xF000)
	want = append(want, rawProxy([4]byte{192, 0, 2, 9}, 1667, 2, 0, "")...)
	if n != 43 || !bytes.Equal(got[8:], want[8:]) {
		t.Fatalf("keepalive to proxied client\n got % x\nwant % x", got, want)
	}
	var via string
	for _, c := range srv.Status()[0].Details["clients"].([]ClientStatus) {
		via = c.Via + " " + c.Address
	}
	if via != sec.LocalAddr().String()+" 192.0.2.9:1667" {
		t.Errorf("status via/address %q", via)
	}
}

// Encapsulated packets where none are expected are counted and dropped.
func TestUnexpectedProxy(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"site": cl("sitepw")})
	cfg.Challenge = "4242"
	srv := startServer(t, map[string]*Config{"solo": cfg})
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(srv.Addr("solo")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	in := rawHeader(1, 0, "777", Digest([]byte("4242"), "sitepw"), 0xF000)
	in = append(in, rawProxy([4]byte{192, 0, 2, 9}, 1667, 2, 0, "31337")...)
	if _, err := c.Write(in); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 3*time.Second, "bad_proxy counted", func() bool { return srv.Stats("solo")["bad_proxy"] == 1 })
	if cs := srv.Status()[0].Details["clients"].([]ClientStatus); cs[0].Connected || cs[0].Via != "" {
		t.Errorf("client changed by a stray proxy packet: %+v", cs[0])
	}
}
