package demo

import (
	"strings"
	"testing"
	"time"
)

// A measured failover says the limit it was checked against.
func TestEventShowsLimit(t *testing.T) {
	e := Event{At: 3 * time.Second, Scheme: "ddns", Message: "cat points at backup", Took: 1500 * time.Millisecond, Limit: 2500 * time.Millisecond, OK: true}
	if s := e.String(); !strings.Contains(s, "(took 1.50s, limit 2.5s)") {
		t.Errorf("%q lacks took and limit", s)
	}
}

// A run cut short says which schemes never failed over.
func TestNotPlayed(t *testing.T) {
	all := []step{{at: 2 * time.Second, scheme: "ddns"}, {at: 3 * time.Second, scheme: "voter"},
		{at: 4 * time.Second, scheme: "schedsync"}, {at: time.Second, scheme: "schedsync"}}
	if s := notPlayed(all, nil); s != "" {
		t.Errorf("a full run: %q", s)
	}
	s := notPlayed(all, all[1:])
	for _, w := range []string{"after 1 of 4 steps", "not shown for voter, schedsync", "more than 10s"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q lacks %q", s, w)
		}
	}
}

// Each secondary site lists only the clients that can reach it, so the
// west row does not show a client of east as ERR for the whole run.
func TestVoterSitesListTheirOwnClients(t *testing.T) {
	if strings.Contains(voterSecondary, "hilltop") {
		t.Error("west lists hilltop, which talks only to east")
	}
}
