package ddns

import (
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// TestPageWitness renders the page of a follower among two deciders on a
// real etcd: its role, the leader it names and both deciders' views.
func TestPageWitness(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	main, backup, sorry := newPage(t, true), newPage(t, false), newPage(t, true)
	dns := &sharedDNS{}
	a := startDecider(t, "a", cl, false, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 15*time.Second, "a leads and pushes main", func() bool { return a.leads() && dns.mem.current() == "192.0.2.1" })
	b := startDecider(t, "b", cl, false, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 10*time.Second, "b follows a and sees both views", func() bool {
		ss := b.status()
		return ss.Witness.Role == "follower" && ss.Witness.Leader == "a" && len(ss.Witness.Views) == 2
	})
	// b publishes its view when a server's state settles (fall results
	// after its first probes, which are spread over an interval)
	addr := serveAdmin(t, b.d, nil, "")
	var page string
	testutil.Eventually(t, 10*time.Second, "both deciders' views show backup ERR", func() bool {
		page, _ = webuitest.Get(t, "http://"+addr+PagePath)
		return strings.Count(page, `<span class="pill bad">ERR</span>`) == 2
	})
	for _, want := range []string{
		"<h3>Witness</h3>", `<td class="wit-role">b: <span class="pill busy">follower</span>`,
		`<td class="wit-leader">a <small>(lock ddns.cat:`,
		`<tr><th>Decider</th><th>View published</th><th>main</th><th>backup</th><th>sorry</th></tr>`,
		`<tr class="decider"><td>a</td>`, `<tr class="decider"><td>b</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(page, `<span class="pill bad">ERR</span>`); n != 2 {
		t.Errorf("the deciders' views show backup ERR %d times, want 2", n)
	}
	if t.Failed() || testing.Verbose() {
		t.Log(page)
	}
}
