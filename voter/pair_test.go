package voter

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// pairCfg is a primary or secondary: a redundant instance with clients
// a, b, c (and on the primary the connectivity client), plus a master
// timing source in its own instance on the same socket.
func pairCfg(listen, rtp, primary string) map[string]*Config {
	clients := map[string]*ClientConfig{"a": cl("apw"), "b": cl("bpw"), "c": cl("cpw")}
	red := voterCfg(listen, rtp, clients)
	if primary == "" {
		red.IsPrimary = true
		red.RTPIn = "127.0.0.1:0"
		red.Clients["secondary-link"] = cl("linkpw")
		red.Clients["b"].Transmit = true
	} else {
		red.Primary = config.Secret(primary)
	}
	tm := voterCfg(listen, "", map[string]*ClientConfig{"gps": {Password: "mpw", Master: true}})
	return map[string]*Config{"red": red, "timing": tm}
}

func TestPrimarySecondaryFailover(t *testing.T) {
	psink, ssink := newRTPSink(t), newRTPSink(t)
	prim := startServer(t, pairCfg("127.0.0.1:0", psink.addr(), ""))
	paddr := prim.Addr("red")
	sec := startServer(t, pairCfg("127.0.0.1:0", ssink.addr(), fmt.Sprintf("%s,linkpw", paddr)))
	saddr := sec.Addr("red")

	rssi := map[string]*atomic.Int32{"a": newRSSI(50), "b": newRSSI(60), "c": newRSSI(200)}
	mk := func(name string, srv netip.AddrPort, v byte) SimClient {
		c := sim(name, name+"pw", srv)
		c.RSSI, c.Audio = varRSSI(rssi[name]), constAudio(v)
		return c
	}
	pm := sim("pgps", "mpw", paddr)
	pm.Master, pm.RSSI = true, func(uint64) byte { return 0 }
	sm := sim("sgps", "mpw", saddr)
	sm.Master, sm.RSSI = true, func(uint64) byte { return 0 }
	var bTx atomic.Int64
	b := mk("b", saddr, 0x22)
	b.OnAudio = func(*Header, []byte) { bTx.Add(1) }
	startSim(t, pm, sm, mk("a", paddr, 0x11), b, mk("c", saddr, 0x33))

	linkUp := func(s *running) func() bool {
		return func() bool { return s.Status()[0].Peer != nil && s.Status()[0].Peer.Connected }
	}
	testutil.Eventually(t, 5*time.Second, "proxy link up", linkUp(sec))
	// c (through the secondary) is loudest: the primary votes it.
	testutil.Eventually(t, 5*time.Second, "c's audio on the primary", func() bool { return psink.lastPayloadIs(0x33) })
	rssi["c"].Store(10)
	testutil.Eventually(t, 5*time.Second, "b's audio on the primary", func() bool { return psink.lastPayloadIs(0x22) })
	rssi["b"].Store(10)
	testutil.Eventually(t, 5*time.Second, "a's audio on the primary", func() bool { return psink.lastPayloadIs(0x11) })
	checkVia(t, prim, saddr)

	// Transmit audio sent to the primary reaches b through the secondary.
	sendTxRTP(t, prim, 20)
	testutil.Eventually(t, 5*time.Second, "transmit audio at b", func() bool { return bTx.Load() > 5 })

	// While proxying the secondary presents no receive audio.
	n := ssink.count()
	rssi["c"].Store(200)
	testutil.Eventually(t, 5*time.Second, "c back on the primary", func() bool { return psink.lastPayloadIs(0x33) })
	if ssink.count() != n {
		t.Errorf("secondary sent %d RTP packets while proxying", ssink.count()-n)
	}

	// Primary dies: the secondary serves c within 2 s (plus one tick).
	prim.stop()
	killed := time.Now()
	n = ssink.count()
	testutil.Eventually(t, 4*time.Second, "secondary serving c", func() bool { return ssink.gotAfter(n, 0x33) })
	took := time.Since(killed)
	t.Logf("secondary took over after %v", took)
	if took > 2300*time.Millisecond {
		t.Errorf("secondary took %v to serve its clients, want <= 2 s", took)
	}

	// Primary back on the same port: proxying resumes without restarts.
	n = psink.count()
	prim2 := startServer(t, pairCfg(paddr.String(), psink.addr(), ""))
	testutil.Eventually(t, 5*time.Second, "proxy link up again", linkUp(sec))
	testutil.Eventually(t, 5*time.Second, "c's audio on the new primary", func() bool { return psink.gotAfter(n, 0x33) })
	checkVia(t, prim2, saddr)
	if unknown, replies := stormCounters(prim, prim2, sec); unknown > 400 || replies > 50 {
		t.Errorf("unknown_digest %d, auth_replies %d: the servers answer each other", unknown, replies)
	}
}

// checkVia asserts that b and c are reached through the secondary.
func checkVia(t *testing.T, s *running, saddr netip.AddrPort) {
	t.Helper()
	for _, d := range s.Status() {
		if d.Instance != "red" {
			continue
		}
		for _, c := range d.Details["clients"].([]ClientStatus) {
			want := ""
			if c.Name == "b" || c.Name == "c" {
				want = saddr.String()
			}
			if c.Name != "secondary-link" && (c.Via != want || c.Packets == 0) {
				t.Errorf("client %s: via %q packets %d, want via %q", c.Name, c.Via, c.Packets, want)
			}
		}
	}
}
