package ddns

import (
	"strings"
	"testing"

	"github.com/redund/redund/internal/health"
)

const (
	U = health.Unknown
	O = health.OK
	E = health.Err
)

// cat builds okerr's example: main (30), backup (20), sorry (10).
func cat(main, backup, sorry health.State, maint ...string) []Candidate {
	cs := []Candidate{
		{Name: "main", Address: "192.0.2.1", Priority: 30, State: main},
		{Name: "backup", Address: "192.0.2.2", Priority: 20, State: backup},
		{Name: "sorry", Address: "192.0.2.3", Priority: 10, State: sorry},
	}
	for i := range cs {
		for _, m := range maint {
			if cs[i].Name == m {
				cs[i].Maintenance = true
			}
		}
	}
	return cs
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name    string
		servers []Candidate
		policy  string
		action  string
		server  string
		reason  string // substring
	}{
		{"all ok: main", cat(O, O, O), PolicyKeep, ActionPoint, "main", "highest-priority"},
		{"main down: backup", cat(E, O, O), PolicyKeep, ActionPoint, "backup", "main is ERR"},
		{"main and backup down: sorry by priority", cat(E, E, O), PolicyKeep, ActionPoint, "sorry", "backup is ERR"},
		{"all down keep", cat(E, E, E), PolicyKeep, ActionKeep, "", "left as it is"},
		{"all down first", cat(E, E, E), PolicyFirst, ActionPoint, "main", "although it is ERR"},
		{"all down first, main maint", cat(E, E, E, "main"), PolicyFirst, ActionPoint, "backup", "policy first"},
		{"all down first, all maint", cat(E, E, E, "main", "backup", "sorry"), PolicyFirst, ActionKeep, "", "in maintenance"},
		{"sorry policy: sorry excluded while others ok", cat(E, O, O), PolicySorry, ActionPoint, "backup", ""},
		{"sorry policy: all down → sorry even if ERR", cat(E, E, E), PolicySorry, ActionPoint, "sorry", "policy sorry"},
		{"sorry policy: sorry in maint → keep", cat(E, E, O, "sorry"), PolicySorry, ActionKeep, "", "sorry server sorry is in maintenance"},
		{"maintenance on main", cat(O, O, O, "main"), PolicyKeep, ActionPoint, "backup", "main in maintenance"},
		{"main unknown: wait", cat(U, O, O), PolicyKeep, ActionWait, "", "waiting for the first result of main"},
		{"main err, backup unknown: wait", cat(E, U, O), PolicyKeep, ActionWait, "", "backup"},
		{"unknown below ok is irrelevant", cat(O, U, U), PolicyKeep, ActionPoint, "main", ""},
		{"unknown in maintenance ignored", cat(U, O, O, "main"), PolicyKeep, ActionPoint, "backup", ""},
		{"everything unknown under first: wait", cat(U, U, U), PolicyFirst, ActionWait, "", "waiting"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.servers, c.policy, "sorry")
			if d.Action != c.action || d.Server != c.server || !strings.Contains(d.Reason, c.reason) {
				t.Errorf("%s: got %+v, want %s %s (%q)", c.name, d, c.action, c.server, c.reason)
			}
			if d.Action == ActionPoint && c.policy == PolicyKeep {
				for _, s := range c.servers {
					if s.Name == d.Server && s.State != O {
						t.Errorf("%s: policy keep chose %s in state %s", c.name, s.Name, s.State)
					}
				}
			}
		})
	}
}

func TestDecideTiesKeepConfigOrder(t *testing.T) {
	cs := []Candidate{
		{Name: "a", Address: "192.0.2.1", Priority: 10, State: O},
		{Name: "b", Address: "192.0.2.2", Priority: 10, State: O},
		{Name: "c", Address: "192.0.2.3", Priority: 5, State: O},
	}
	if d := Decide(cs, PolicyKeep, ""); d.Server != "a" {
		t.Errorf("tie: chose %s, want a (listed first)", d.Server)
	}
	cs[0].State = E
	if d := Decide(cs, PolicyKeep, ""); d.Server != "b" {
		t.Errorf("tie with a down: chose %s, want b", d.Server)
	}
}

// TestDecideNeverErrUnderKeep checks every combination of three states and
// maintenance flags: under keep, the chosen server is always OK and never
// in maintenance, and no higher-priority server was selectable.
func TestDecideNeverErrUnderKeep(t *testing.T) {
	states := []health.State{U, O, E}
	for a := range 3 {
		for b := range 3 {
			for c := range 3 {
				for m := range 8 {
					cs := cat(states[a], states[b], states[c])
					for i := range cs {
						cs[i].Maintenance = m&(1<<i) != 0
					}
					d := Decide(cs, PolicyKeep, "")
					if d.Action != ActionPoint {
						continue
					}
					for _, s := range cs {
						if s.Name == d.Server && (s.State != O || s.Maintenance) {
							t.Fatalf("%+v: chose %s", cs, d.Server)
						}
						if s.Priority > 0 && s.State == O && !s.Maintenance && s.Priority > priorityOf(cs, d.Server) {
							t.Fatalf("%+v: chose %s over selectable %s", cs, d.Server, s.Name)
						}
					}
				}
			}
		}
	}
}

func priorityOf(cs []Candidate, name string) int {
	for _, c := range cs {
		if c.Name == name {
			return c.Priority
		}
	}
	return 0
}
