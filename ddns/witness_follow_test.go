package ddns

import (
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// followed reports whether n follows the deciders' views now: no follow
// error, want views and none of them stale.
func followed(n *decNode, want int) bool {
	w := n.status().Witness
	if w.FollowError != "" || len(w.Views) != want {
		return false
	}
	for _, v := range w.Views {
		if v.Stale {
			return false
		}
	}
	return true
}

// TestWitnessFollowCut: b's connections to etcd go silent. Its watch of
// the deciders' views is then down: its status (witness details, the
// document's reason) and its page say why, and a's view it still holds is
// marked stale. Healed, the error goes and the views are fresh again.
func TestWitnessFollowCut(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	dns := &sharedDNS{}
	a := startDecider(t, "a", cl, false, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 15*time.Second, "a leads", a.leads)
	b := startDecider(t, "b", cl, true, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 10*time.Second, "b follows both views", func() bool { return followed(b, 2) })
	addr := serveAdmin(t, b.d, nil, "")

	b.cutEtcd()
	seen := map[string]bool{}
	testutil.Eventually(t, 15*time.Second, "b shows its watch down and a's view stale", func() bool {
		w := b.status().Witness
		if !seen[w.FollowError] {
			seen[w.FollowError] = true
			t.Logf("follow error: %q", w.FollowError)
		}
		if !strings.Contains(w.FollowError, "watch of ddns.cat") {
			return false
		}
		for _, v := range w.Views {
			if v.Node == "a" && v.Stale {
				return true
			}
		}
		return false
	})
	doc := b.d.Scheme("cat").Document()
	if !strings.Contains(doc.Reason, "deciders' views stale: witness: watch of ddns.cat") {
		t.Errorf("status reason %q does not say the views are stale", doc.Reason)
	}
	page, _ := webuitest.Get(t, "http://"+addr+PagePath)
	for _, want := range []string{`<td class="wit-follow"><span class="pill warn">stale</span> witness: watch of ddns.cat`,
		`<tr class="decider stale"><td>a</td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, `<tr class="decider stale"><td>b</td>`) {
		t.Error("the page marks b's own view (from its monitors) stale")
	}

	b.relays.Heal()
	testutil.Eventually(t, 20*time.Second, "b follows again: error cleared, views fresh", func() bool { return followed(b, 2) })
	if doc := b.d.Scheme("cat").Document(); strings.Contains(doc.Reason, "stale") {
		t.Errorf("status reason %q still says stale", doc.Reason)
	}
}

// TestWitnessFollowEnded: the witness stops under a running scheme, so the
// watch's channel closes and Watch fails from then on. The scheme says so
// in its status and keeps trying, instead of going on quietly with the
// views it had.
func TestWitnessFollowEnded(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	a := startDecider(t, "a", cl, false, catConfig(t, main, backup, sorry), &sharedDNS{})
	testutil.Eventually(t, 15*time.Second, "a leads and follows its view", func() bool { return a.leads() && followed(a, 1) })
	a.d.Scheme("cat").wit.w.Close()
	testutil.Eventually(t, 10*time.Second, "a shows the watch down", func() bool {
		return a.status().Witness.FollowError != ""
	})
	if doc := a.d.Scheme("cat").Document(); !strings.Contains(doc.Reason, "deciders' views stale") {
		t.Errorf("status reason %q does not say the views are stale", doc.Reason)
	}
}

// TestWitnessViewNotInEtcdShown: a decider whose latest view cannot be
// written to etcd (cut off) says so in its status: the other deciders do
// not count what it sees now. Healed, the view is written and the status
// says it is in etcd. Before, its own view was shown as if the others had
// it.
func TestWitnessViewNotInEtcdShown(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	dns := &sharedDNS{}
	b := startDecider(t, "b", cl, true, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 15*time.Second, "b's view in etcd", func() bool {
		w := b.status().Witness
		return w.ViewInEtcd && w.ViewPendingS == 0
	})
	b.cutEtcd()
	main.ok.Store(false) // b's view changes while it cannot write it
	testutil.Eventually(t, 20*time.Second, "b says its view is not in etcd", func() bool {
		w := b.status().Witness
		doc := b.d.Scheme("cat").Document()
		return !w.ViewInEtcd && w.ViewPendingS > 1 && strings.Contains(doc.Reason, "this decider's view not in etcd for")
	})
	addr := serveAdmin(t, b.d, nil, "")
	if page, _ := webuitest.Get(t, "http://"+addr+PagePath); !strings.Contains(page, `<td class="wit-publish"><span class="pill warn">not in etcd</span> for `) {
		t.Error("the page does not say the view is not in etcd")
	}
	b.relays.Heal()
	testutil.Eventually(t, 20*time.Second, "b's view written again", func() bool {
		w := b.status().Witness
		return w.ViewInEtcd && !strings.Contains(b.d.Scheme("cat").Document().Reason, "view not in etcd")
	})
}
