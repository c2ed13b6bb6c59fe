package voter

import (
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// An instance whose clients are timed by a master in another instance on
// the same socket (how a redundant instance gets GPS timing) shows that
// master, not "no master configured: the server's timer drives the
// cycle"; and a master that is configured but silent is shown as
// stopping the vote, which it does, not as leaving it to the timer.
func TestPageTimingSourceOfSharedSocket(t *testing.T) {
	timing := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"gpsmaster": {Password: "mpw", Master: true}})
	red := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"hilltop": cl("hpw")})
	srv := startServer(t, map[string]*Config{"timing": timing, "red": red})
	base := "http://" + serveVoterAdmin(t, srv.Server)
	redSection := func() string {
		page, _ := webuitest.Get(t, base+PagePath)
		i := strings.Index(page, `id="instance-red"`)
		if i < 0 {
			t.Fatalf("no section for red:\n%s", page)
		}
		return page[i:]
	}
	if s := redSection(); !strings.Contains(s, "master gpsmaster <small>(instance timing)</small>: <span class=\"pill warn\">not heard</span> (nothing is voted until it is)") {
		t.Errorf("before the master is heard, red shows:\n%s", s)
	}
	m := sim("gpsmaster", "mpw", srv.Addr("timing"))
	m.Master, m.RSSI = true, func(uint64) byte { return 0 }
	startSim(t, m)
	testutil.Eventually(t, 5*time.Second, "master timing", func() bool {
		for _, d := range srv.Status() {
			if d.Instance == "red" {
				ts, _ := d.Details["timing_source"].(*TimingSource)
				return ts != nil && ts.Timing && ts.Name == "gpsmaster" && ts.Instance == "timing"
			}
		}
		return false
	})
	if s := redSection(); !strings.Contains(s, "master gpsmaster <small>(instance timing)</small>: <span class=\"pill ok\">timing</span>") {
		t.Errorf("with the master heard, red shows:\n%s", s)
	}
}

// With a master configured, only its packets run the vote: an instance
// whose clients are all connected votes nothing while the master is not
// timing (not heard, or heard without audio, as a board without a GPS
// fix). Its health said OK all along; it now has a "master timing" entry.
func TestHealthMasterTiming(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"gpsmaster": {Password: "mpw", Master: true}, "mixer": cl("xpw")})
	srv := startServer(t, map[string]*Config{"main": cfg})
	timing := func() (string, string) {
		for _, h := range srv.Status()[0].Health {
			if h.Name == "master timing" {
				return h.State, h.Reason
			}
		}
		return "", ""
	}
	mx := sim("mixer", "xpw", srv.Addr("main"))
	mx.Mix = true
	s := startSim(t, mx)
	testutil.Eventually(t, 5*time.Second, "mixer connected", s.Connected)
	if st, why := timing(); st != "ERR" || why != "master timing source gpsmaster not timing: nothing is voted" {
		t.Fatalf("without the master: %q %q", st, why)
	}
	m := sim("gpsmaster", "mpw", srv.Addr("main"))
	m.Master, m.RSSI = true, func(uint64) byte { return 0 }
	startSim(t, m)
	testutil.Eventually(t, 5*time.Second, "master timing OK", func() bool { st, _ := timing(); return st == "OK" })
}
