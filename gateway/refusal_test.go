package gateway

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestRefusedPointSetAside: a point the master refuses for a reason the
// backup cannot check (here a rule of the master's own database) is,
// after bounded retries, set aside in the quarantine and counted; the
// points around it reach the master. Before, the batch that carried it
// was sent again every second for ever and no point behind it arrived.
func TestRefusedPointSetAside(t *testing.T) {
	m, b, addr := pair(t, func(mc, bc *Config) { mc.History, bc.History = HistoryPartial, HistoryPartial })
	// the backup again, with retries short enough for a test
	b.stop()
	m.stop()
	pol := refusalPolicy{Strikes: 3, MinSpan: 200 * time.Millisecond, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	b = startGWWith(t, b.cfg, Options{refusal: &pol})
	waitRole(t, b, RoleActive, 10*time.Second)
	now := time.Now().UnixMilli()
	if _, err := b.PostHistory([]Point{{Tag: "flow", TSMS: now, Value: 1}, {Tag: "flow", TSMS: now + 1, Value: 666},
		{Tag: "flow", TSMS: now + 2, Value: 3}}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", sqliteDSN(filepath.Join(m.cfg.DataDir, "history.db")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TRIGGER no_666 BEFORE INSERT ON points WHEN NEW.value = 666
		BEGIN SELECT RAISE(ABORT, 'value 666 is refused by a rule of the master'); END`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	mc := m.cfg
	mc.JoinWait = 5_000_000_000
	m2 := startGW(t, mc, listen(t, addr))
	waitRole(t, m2, RoleActive, 5*time.Second)
	testutil.Eventually(t, 10*time.Second, "the points around the refused one forwarded, the refused one set aside", func() bool {
		c := countByTS(t, m2)
		h := b.Detail().History
		return c[now] == 1 && c[now+2] == 1 && len(c) == 2 && h.Cached == 0 && h.Quarantined == 1 && h.RefusedInRow == 0
	})
	found := false
	for _, e := range b.Detail().Events {
		found = found || (strings.Contains(e.Message, "set aside cached point") && strings.Contains(e.Message, "value 666 is refused"))
	}
	if !found {
		t.Fatalf("no system event for the refused point: %+v", b.Detail().Events)
	}
}

// TestRefusals: the forward loop's record of the master's refusals
// narrows a refused batch down to one point, waits longer after each
// refusal, and sets the point aside only after Strikes refusals over at
// least MinSpan.
func TestRefusals(t *testing.T) {
	pol := refusalPolicy{Strikes: 3, MinSpan: time.Minute, Backoff: time.Second, MaxBackoff: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	type step struct {
		n        int           // points in the refused batch (0: an accepted batch)
		at       time.Duration // since t0
		size     int           // the next batch's size
		wait     time.Duration
		setAside bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"a full batch refused is halved", []step{{n: 500, size: 250, wait: time.Second}, {n: 250, size: 125, wait: 2 * time.Second}}},
		{"an accepted batch grows back", []step{{n: 500, size: 250, wait: time.Second}, {n: 0, size: 500}}},
		{"the wait is capped", []step{{n: 8, size: 4, wait: time.Second}, {n: 4, size: 2, wait: 2 * time.Second},
			{n: 2, size: 1, wait: 4 * time.Second}, {n: 1, size: 1, wait: 8 * time.Second}, {n: 1, size: 1, wait: 10 * time.Second}}},
		{"one point refused often but not long enough is kept", []step{{n: 1, size: 1, wait: time.Second},
			{n: 1, at: time.Second, size: 1, wait: 2 * time.Second}, {n: 1, at: 3 * time.Second, size: 1, wait: 4 * time.Second}}},
		{"one point refused Strikes times over MinSpan is set aside", []step{{n: 1, size: 1, wait: time.Second},
			{n: 1, at: 30 * time.Second, size: 1, wait: 2 * time.Second}, {n: 1, at: time.Minute, size: 500, setAside: true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r refusals
			for i, s := range c.steps {
				var wait time.Duration
				var setAside bool
				if s.n == 0 {
					r = r.accepted()
				} else {
					r, wait, setAside = r.refused(pol, s.n, t0.Add(s.at))
				}
				if r.size() != s.size || wait != s.wait || setAside != s.setAside {
					t.Fatalf("step %d: size %d, wait %v, set aside %v; want %d, %v, %v", i, r.size(), wait, setAside, s.size, s.wait, s.setAside)
				}
			}
		})
	}
}
