package ddns

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

func TestNotProbedFor(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	after := 2*time.Second + 500*time.Millisecond
	for _, c := range []struct {
		last time.Time
		want time.Duration
	}{
		{time.Time{}, 0}, // no result yet: UNKNOWN already
		{now, 0},
		{now.Add(-after), 0}, // exactly due: still fresh
		{now.Add(-after - time.Millisecond), after + time.Millisecond},
		{now.Add(-time.Minute), time.Minute},
	} {
		t.Run(fmt.Sprint(now.Sub(c.last)), func(t *testing.T) {
			if got := notProbedFor(c.last, now, after); got != c.want {
				t.Errorf("notProbedFor(%v ago) = %v, want %v", now.Sub(c.last), got, c.want)
			}
		})
	}
}

// TestStatusShowsProbesStopped: once the probes stop (here the daemon's Run
// ends; on a host short of CPU they fall behind), the status document no
// longer shows the last results as the servers' state: past the next
// probe's due time and its timeout, each server is UNKNOWN with how long it
// has gone unprobed and what the last probe said. Before, it showed OK for
// ever.
func TestStatusShowsProbesStopped(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	d, err := New(map[string]*Config{"cat": catConfig(t, main, backup, sorry)},
		Options{Provider: func(string, *Config) (dnsupdate.Provider, error) { return &memProvider{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	s := d.Scheme("cat")
	testutil.Eventually(t, 5*time.Second, "scheme synced", func() bool { return s.Snapshot().State == StateSynced })
	if h := s.Document().Health[0]; h.State != "OK" {
		t.Fatalf("main while probed: %+v", h)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "main shown unprobed", func() bool {
		h := s.Document().Health[0]
		return h.State == "UNKNOWN" && strings.Contains(h.Reason, "no probe result for") &&
			strings.Contains(h.Reason, "the last said OK: HTTP 200")
	})
	if sv := s.Snapshot().Servers[0]; sv.NotProbedS <= 0 || sv.State != "OK" {
		t.Errorf("status details of main: %+v, want the monitor's state with not_probed_s", sv)
	}
	page, _ := webuitest.Get(t, "http://"+serveAdmin(t, d, nil, "")+PagePath)
	if !strings.Contains(page, `<span class="pill warn unprobed">unverified: no probe result for `) {
		t.Error("the page does not mark main unverified")
	}
}

// TestInSyncNeedsTheChosenValue: in_sync (and redund_ddns_in_sync) says
// the provider holds exactly the chosen value; between a new decision and
// the loop's next step the word is still the old Synced, and in_sync must
// not say so for the new value.
func TestInSyncNeedsTheChosenValue(t *testing.T) {
	pg := newPage(t, true)
	d, err := New(map[string]*Config{"cat": catConfig(t, pg, pg, pg)},
		Options{Provider: func(string, *Config) (dnsupdate.Provider, error) { return &memProvider{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	s := d.Scheme("cat")
	for _, c := range []struct {
		name   string
		chosen string
		want   bool
	}{
		{"holds the chosen value", "192.0.2.1", true},
		{"holds the previous choice", "192.0.2.2", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.mu.Lock()
			s.st.word, s.st.known, s.st.knownValid = StateSynced, []string{"192.0.2.1"}, true
			s.st.decision = Decision{Action: ActionPoint, Server: "x", Address: c.chosen}
			s.mu.Unlock()
			if got := s.Snapshot().InSync; got != c.want {
				t.Errorf("in_sync = %v with 192.0.2.1 held and %s chosen, want %v", got, c.chosen, c.want)
			}
		})
	}
}
