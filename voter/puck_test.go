package voter

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// puckGroup: master m and GPS client g (connected), puckit as given; m's
// GPS keepalive at T and g's at T+1 s (a Garmin puck one second off).
func puckGroup(t *testing.T, puckit bool) (*group, *client) {
	t.Helper()
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"g": cl("gpw"), "m": {Password: "mpw", Master: true}})
	cfg.Challenge, cfg.PuckIt = "12345678", puckit
	g := offlineGroup(t, map[string]*Config{"x": cfg})
	c, m := g.clients[0], g.clients[1]
	for _, x := range []*client{c, m} {
		x.heard, x.respDigest = true, Digest([]byte("999"), "hostpw")
		x.setAddr(netip4(4000 + len(x.name)))
	}
	g.master = m
	g.masterSec, g.masterNsec = 1700000000, 500000000
	keep := func(x *client, sec uint32) {
		p := Packet{Header: Header{Sec: sec, Nsec: 500000000, Challenge: MakeChallenge("999"), Digest: x.digest}, Kind: TypeGPS}
		g.handle(p.Append(nil), x.addr, emitNow)
	}
	keep(m, 1700000000)
	keep(c, 1700000001)
	sent(g)
	return g, c
}

// With puckit, chan_voter's mkpucked stamps transmit audio and pings to a
// client with the master's seconds moved by that client's offset (here
// +1 s); the nanoseconds stay the master's. Without puckit, the master's.
func TestPuckitTransmitSeconds(t *testing.T) {
	for _, puckit := range []bool{false, true} {
		g, c := puckGroup(t, puckit)
		want := uint32(1700000000)
		if puckit {
			want++
		}
		g.sendTo(c, TypeULaw, silence[:FrameLen], emitNow)
		if _, err := g.startPing(c.inst, "g", 1); err != nil {
			t.Fatal(err)
		}
		g.sendPings(emitNow)
		for i, b := range sent(g) {
			if sec, nsec := binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8]); sec != want || nsec != 500000000 {
				t.Errorf("puckit %v, packet %d: time %d.%09d, want %d.500000000", puckit, i, sec, nsec, want)
			}
		}
	}
}

// With puckit, audio from a client whose puck is one second ahead is
// placed as if on time (chan_voter subtracts puckoffset); without it the
// same packet falls outside the buffer and counts as late.
func TestPuckitPlacement(t *testing.T) {
	for _, puckit := range []bool{false, true} {
		g, c := puckGroup(t, puckit)
		p := Packet{Header: Header{Sec: 1700000001, Nsec: 500000000, Digest: c.digest}, Kind: TypeULaw, RSSI: 100,
			Audio: silence[:FrameLen]}
		g.placeTimed(c, &p, false)
		if late := g.stats.Late != 0; late == puckit {
			t.Errorf("puckit %v: late %d", puckit, g.stats.Late)
		}
	}
}

func netip4(port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// A gpsid client's GPS packet (VOTER_GPS: lat[9] lon[10] elev[7]) ends up
// in gps_<id>.dat as chan_voter writes it: "unixtime lat lon elevM".
func TestGPSFile(t *testing.T) {
	dir := t.TempDir()
	id := "7"
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"g": {Password: "gpw", GPSID: &id},
		"bare": {Password: "bpw", GPSID: new(string)}})
	cfg.Challenge, cfg.GPSDir = "12345678", dir
	srv := startServer(t, map[string]*Config{"x": cfg})
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(srv.Addr("x")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, c := range []struct{ pw, file string }{{"gpw", "gps_7.dat"}, {"bpw", "gps.dat"}} {
		t.Run(c.file, func(t *testing.T) {
			var b []byte
			b = binary.BigEndian.AppendUint32(b, 1700000000)
			b = binary.BigEndian.AppendUint32(b, 0)
			b = append(b, "999\x00\x00\x00\x00\x00\x00\x00"...)
			b = binary.BigEndian.AppendUint32(b, Digest([]byte("12345678"), c.pw))
			b = binary.BigEndian.AppendUint16(b, 2)
			b = append(b, "4807.03N\x0001131.00E\x000545.4\x00"...) // 9 + 10 + 7 bytes
			if len(b) != 50 {
				t.Fatalf("GPS packet of %d bytes", len(b))
			}
			before := time.Now().Unix()
			if _, err := conn.Write(b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, c.file)
			var got []byte
			testutil.Eventually(t, 5*time.Second, c.file, func() bool { got, err = os.ReadFile(path); return err == nil })
			f := strings.Fields(string(got))
			if len(f) != 4 || f[1] != "4807.03N" || f[2] != "01131.00E" || f[3] != "0545.4M" || !strings.HasSuffix(string(got), "\n") {
				t.Errorf("%s: %q", c.file, got)
			}
			if ts, _ := strconv.ParseInt(f[0], 10, 64); ts < before || ts > time.Now().Unix() {
				t.Errorf("%s: time %d", c.file, ts)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "gps_7.tmp")); !os.IsNotExist(err) {
		t.Errorf("work file left behind: %v", err)
	}
}

// A GPS position is the client's bytes: shown on the page, in the status
// and written to the GPS file, it keeps no control or bidirectional-text
// character (a line break would add a line to the file, an override would
// reorder the page's text).
func TestGPSStringIsCleaned(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "4807.03N\x0001131.00E\x000545.4\x00", "4807.03N 01131.00E 0545.4M"},
		{"line break", "4807.03N\x0001131.00E\x0005\n999\x00", "4807.03N 01131.00E 05 999M"},
		{"escape and override", "48\x1b[2J3N\x000\u202e1.00E\x00054\x00\x00\x00", "48[2J3N 01.00E 054M"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gpsString([]byte(tc.in)); got != tc.want {
				t.Errorf("gpsString(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// GPS files are written at most once per gpsFileEvery per client: the
// position is not covered by the digest, so a flood of one client's GPS
// packets (a replay) would otherwise be a file write and rename each.
func TestGPSFileWritesBounded(t *testing.T) {
	id := "7"
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"g": {Password: "gpw", GPSID: &id}})
	cfg.Challenge, cfg.GPSDir = "12345678", t.TempDir()
	g := offlineGroup(t, map[string]*Config{"x": cfg})
	g.gpsq = make(chan gpsWrite, 64)
	p := Packet{Header: Header{Challenge: MakeChallenge("999"), Digest: Digest([]byte("12345678"), "gpw")},
		Kind: TypeGPS, GPS: []byte("4807.03N\x0001131.00E\x000545.4\x00")}
	raw := p.Append(nil)
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 50 { // 50 packets in 49 ms
		g.handle(raw, from, t0.Add(time.Duration(i)*time.Millisecond))
	}
	g.handle(raw, from, t0.Add(gpsFileEvery))
	if n := len(g.gpsq); n != 2 {
		t.Fatalf("%d GPS file writes queued, want 2", n)
	}
}
