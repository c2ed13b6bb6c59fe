package ddns

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redund/redund/internal/health"
)

// view builds one decider's view of main, backup and sorry ("" leaves a
// server out: the decider has published nothing for it).
func view(node string, main, backup, sorry string) View {
	v := View{Node: node, Servers: map[string]ServerView{}}
	for name, st := range map[string]string{"main": main, "backup": backup, "sorry": sorry} {
		if st != "" {
			v.Servers[name] = ServerView{State: st}
		}
	}
	return v
}

// at sets the address v has for server (as the decider's config says).
func at(v View, server, addr string) View {
	sv := v.Servers[server]
	sv.Address = addr
	v.Servers[server] = sv
	return v
}

// maint puts server in maintenance in v.
func maint(v View, server string) View {
	sv := v.Servers[server]
	sv.Maintenance = true
	v.Servers[server] = sv
	return v
}

// stale marks v as held while the watch of the views is down.
func stale(v View) View {
	v.Stale = true
	return v
}

func TestJudge(t *testing.T) {
	cases := []struct {
		rule             string
		ok, bad, unknown int
		want             health.State
	}{
		{QuorumMajority, 0, 0, 0, U}, // no live decider: nobody knows
		{QuorumMajority, 1, 0, 0, O},
		{QuorumMajority, 0, 1, 0, E},
		{QuorumMajority, 2, 1, 0, O}, // one decider cut from the servers changes nothing
		{QuorumMajority, 1, 2, 0, E}, // two of three see it down
		{QuorumMajority, 1, 1, 0, E}, // two deciders that disagree: no majority
		{QuorumMajority, 1, 1, 1, U}, // the third decides
		{QuorumMajority, 1, 0, 2, U},
		{QuorumMajority, 2, 0, 1, O},
		{QuorumMajority, 0, 2, 1, E},
		{QuorumMajority, 2, 2, 0, E}, // four deciders: two is not more than half
		{QuorumMajority, 3, 2, 0, O},
		{QuorumAny, 1, 2, 0, O},
		{QuorumAny, 0, 3, 0, E},
		{QuorumAny, 0, 2, 1, U},
		{QuorumAll, 3, 0, 0, O},
		{QuorumAll, 2, 1, 0, E},
		{QuorumAll, 2, 0, 1, U},
		{"", 2, 1, 0, O}, // unset: majority
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s ok=%d err=%d unknown=%d", c.rule, c.ok, c.bad, c.unknown), func(t *testing.T) {
			if got := judge(c.rule, c.ok, c.bad, c.unknown); got != c.want {
				t.Errorf("judge(%q, ok %d, err %d, unknown %d) = %v, want %v", c.rule, c.ok, c.bad, c.unknown, got, c.want)
			}
		})
	}
}

func TestAgree(t *testing.T) {
	cases := []struct {
		name   string
		views  []View
		rule   string
		want   []health.State // main, backup, sorry
		reason string         // substring of main's reason
	}{
		{"all agree", []View{view("a", "OK", "OK", "OK"), view("b", "OK", "OK", "OK"), view("c", "OK", "OK", "OK")},
			QuorumMajority, []health.State{O, O, O}, "3 of 3 deciders see it OK, quorum majority (a OK, b OK, c OK)"},
		{"one decider cut from the servers", []View{view("a", "ERR", "ERR", "ERR"), view("b", "OK", "OK", "OK"), view("c", "OK", "OK", "OK")},
			QuorumMajority, []health.State{O, O, O}, "2 of 3 deciders see it OK"},
		{"main down for two", []View{view("a", "ERR", "OK", "OK"), view("b", "ERR", "OK", "OK"), view("c", "OK", "OK", "OK")},
			QuorumMajority, []health.State{E, O, O}, "1 of 3 deciders see it OK, quorum majority (a ERR, b ERR, c OK)"},
		{"a new decider without results", []View{view("a", "OK", "ERR", "OK"), view("b", "", "", "")},
			QuorumMajority, []health.State{U, E, U}, "b UNKNOWN"},
		{"any", []View{view("a", "ERR", "ERR", "OK"), view("b", "OK", "ERR", "OK")},
			QuorumAny, []health.State{O, E, O}, "quorum any"},
		{"all", []View{view("a", "ERR", "OK", "OK"), view("b", "OK", "OK", "UNKNOWN")},
			QuorumAll, []health.State{E, O, U}, "quorum all"},
		{"no views", nil, QuorumMajority, []health.State{U, U, U}, "0 of 0 deciders"},
		// the watch of the views is down: what b and c saw before does not
		// move the record (a alone is no majority), nor keep it on main
		{"views of the others stale", []View{view("a", "ERR", "OK", "ERR"), stale(view("b", "ERR", "OK", "OK")), stale(view("c", "OK", "ERR", "OK"))},
			QuorumMajority, []health.State{U, U, U}, "0 of 3 deciders see it OK, quorum majority (a ERR, b stale ERR, c stale OK)"},
		// b runs a config where main is another machine: what it sees
		// of main is not what this node means by main
		{"a decider's main at another address", []View{view("a", "OK", "OK", "OK"), at(view("b", "OK", "OK", "OK"), "main", "192.0.2.99"), view("c", "ERR", "OK", "OK")},
			QuorumMajority, []health.State{U, O, O}, "1 of 3 deciders see it OK, quorum majority (a OK, b at 192.0.2.99 (not 192.0.2.1) OK, c ERR)"},
		{"the same address spelt otherwise", []View{view("a", "OK", "OK", "OK"), at(view("b", "OK", "OK", "OK"), "main", "::ffff:192.0.2.1"), view("c", "ERR", "OK", "OK")},
			QuorumMajority, []health.State{O, O, O}, "2 of 3 deciders see it OK"},
		{"stale views and quorum any", []View{view("a", "OK", "ERR", "ERR"), stale(view("b", "ERR", "OK", "OK"))},
			QuorumAny, []health.State{O, U, U}, "1 of 2 deciders see it OK, quorum any (a OK, b stale ERR)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := cat(O, O, O, "backup")
			got := Agree(in, c.views, c.rule)
			for i, w := range c.want {
				if got[i].State != w {
					t.Errorf("%s: %v, want %v (%s)", got[i].Name, got[i].State, w, got[i].Reason)
				}
			}
			if !got[1].Maintenance || got[0].Maintenance {
				t.Errorf("maintenance is this node's: got %+v", got)
			}
			if !strings.Contains(got[0].Reason, c.reason) {
				t.Errorf("main's reason %q does not contain %q", got[0].Reason, c.reason)
			}
			if in[0].State != O {
				t.Errorf("Agree changed its input")
			}
		})
	}
}

// TestDecideWithQuorum: Decide over the candidates Agree gives: one decider
// that sees every server down does not move the record; two that see main
// down do; a decider without results makes the leader wait.
func TestDecideWithQuorum(t *testing.T) {
	cases := []struct {
		name   string
		views  []View
		action string
		server string
	}{
		{"one decider sees all down", []View{view("a", "ERR", "ERR", "ERR"), view("b", "OK", "OK", "OK"), view("c", "OK", "OK", "OK")}, ActionPoint, "main"},
		{"two see main down", []View{view("a", "ERR", "OK", "OK"), view("b", "ERR", "OK", "OK"), view("c", "OK", "OK", "OK")}, ActionPoint, "backup"},
		{"split with a newcomer", []View{view("a", "ERR", "OK", "OK"), view("b", "OK", "OK", "OK"), view("c", "", "", "")}, ActionWait, ""},
		{"all see all down", []View{view("a", "ERR", "ERR", "ERR"), view("b", "ERR", "ERR", "ERR")}, ActionPoint, "sorry"},
		// b's OK is about another machine: main is no longer OK for a
		// majority, and b could not make it ERR either, so the leader waits
		{"main OK for two, one of which means another machine", []View{view("a", "OK", "OK", "OK"), at(view("b", "OK", "OK", "OK"), "main", "192.0.2.99"), view("c", "ERR", "OK", "OK")}, ActionWait, ""},
		// maintenance sent to a follower reaches the leader through its view
		{"main in maintenance on another decider", []View{view("a", "OK", "OK", "OK"), maint(view("b", "OK", "OK", "OK"), "main"), view("c", "OK", "OK", "OK")}, ActionPoint, "backup"},
		{"maintenance in a stale view", []View{view("a", "OK", "OK", "OK"), stale(maint(view("b", "OK", "OK", "OK"), "main")), view("c", "OK", "OK", "OK")}, ActionPoint, "main"},
		{"maintenance of main at another address", []View{view("a", "OK", "OK", "OK"), at(maint(view("b", "OK", "OK", "OK"), "main"), "main", "192.0.2.99"), view("c", "OK", "OK", "OK")}, ActionPoint, "main"},
		{"main down here, the others' views stale", []View{view("a", "ERR", "OK", "OK"), stale(view("b", "ERR", "OK", "OK")), stale(view("c", "ERR", "OK", "OK"))}, ActionWait, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(Agree(cat(O, O, O), c.views, QuorumMajority), PolicySorry, "sorry")
			if d.Action != c.action || d.Server != c.server {
				t.Errorf("%s: %+v, want %s %s", c.name, d, c.action, c.server)
			}
		})
	}
}

// TestAgreeMaintenanceNamesDeciders: the decision says on which deciders
// the skipped server is in maintenance.
func TestAgreeMaintenanceNamesDeciders(t *testing.T) {
	views := []View{view("a", "OK", "OK", "OK"), maint(view("c", "OK", "OK", "OK"), "main"), maint(view("b", "OK", "OK", "OK"), "main")}
	d := Decide(Agree(cat(O, O, O), views, QuorumMajority), PolicySorry, "sorry")
	if d.Server != "backup" || !strings.Contains(d.Reason, "main in maintenance on b, c") {
		t.Errorf("decision %+v, want backup because main is in maintenance on b, c", d)
	}
}
