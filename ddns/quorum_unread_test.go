package ddns

import (
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/witness"
)

// TestQuorumWaitsForTheFirstViews: the lock and the watch of the deciders'
// views are set up independently; a decider that holds the lock before it
// has read the views once knows only its own. Its view alone is no quorum
// of the deciders: until the first read every server is UNKNOWN (the
// decision waits) instead of "1 of 1 deciders" deciding, which let a
// leader cut off from the servers move the record by itself.
func TestQuorumWaitsForTheFirstViews(t *testing.T) {
	w, err := witness.New(witness.Config{Endpoints: []string{"http://127.0.0.1:1"}, Name: "a", TTL: config.Duration(witnessTTL)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pg := newPage(t, true)
	c := catConfig(t, pg, pg, pg)
	c.Witness = true
	d, err := New(map[string]*Config{"cat": c}, Options{Witness: w,
		Provider: func(string, *Config) (dnsupdate.Provider, error) { return &memProvider{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	s := d.Scheme("cat")
	allDown := cat(health.Err, health.Err, health.Err)

	got := s.quorumCandidates(allDown)
	for _, c := range got {
		if c.State != health.Unknown || !strings.Contains(c.Reason, "not read from etcd yet") {
			t.Errorf("before the first read: %s %v (%s), want UNKNOWN", c.Name, c.State, c.Reason)
		}
	}
	if dec := Decide(got, PolicySorry, "sorry"); dec.Action != ActionWait {
		t.Errorf("decision before the first read: %+v, want wait", dec)
	}

	// the first read: b and c see every server OK
	s.mu.Lock()
	s.wit.views = []View{view("b", "OK", "OK", "OK"), view("c", "OK", "OK", "OK")}
	s.wit.viewsAt = s.wit.viewsAt.Add(1)
	s.mu.Unlock()
	if dec := Decide(s.quorumCandidates(allDown), PolicySorry, "sorry"); dec.Server != "main" {
		t.Errorf("decision after the first read: %+v, want main (2 of 3 see it OK)", dec)
	}
}

// TestWaitSaysWhy: a decision that waits names why the server has no
// result (the quorum's count, or the views not read yet).
func TestWaitSaysWhy(t *testing.T) {
	cs := cat(health.Unknown, health.OK, health.OK)
	cs[0].Reason = viewsUnread
	if d := Decide(cs, PolicyKeep, ""); d.Action != ActionWait || !strings.Contains(d.Reason, "main (priority 30): "+viewsUnread) {
		t.Errorf("decision %+v, want a wait naming why", d)
	}
}
