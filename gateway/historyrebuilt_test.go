package gateway

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// A backup whose data_dir was rebuilt (a new disk, a reinstall) numbers its
// cached points from 1 again. The master must not take those points for
// repeats of the ones the old cache forwarded under the same numbers: they
// were acknowledged to their writer and must reach the master's history.
func TestRebuiltBackupCacheIsNotTakenForRepeats(t *testing.T) {
	m, b, addr := pair(t, func(mc, bc *Config) { mc.History, bc.History = HistoryPartial, HistoryPartial })
	bc := b.cfg
	outage := func(value float64) {
		t.Helper()
		m.stop()
		waitRole(t, b, RoleActive, 5*time.Second)
		tsBase := time.Now().UnixMilli() - 10 // taken while the master is down (stopped over 0.5 s ago)
		var pts []Point
		for i := range 3 {
			pts = append(pts, Point{Tag: "flow", TSMS: tsBase + int64(i), Value: value + float64(i)})
		}
		if _, err := b.PostHistory(pts); err != nil {
			t.Fatal(err)
		}
		if h := b.Detail().History; h.Cached != 3 || !h.OldestCached.Equal(time.UnixMilli(tsBase)) {
			t.Fatalf("status: %d cached, oldest %v; want 3, %v", h.Cached, h.OldestCached, time.UnixMilli(tsBase))
		}
		mc := m.cfg
		mc.JoinWait = 5_000_000_000
		m = startGW(t, mc, listen(t, addr))
		waitRole(t, m, RoleActive, 5*time.Second)
		testutil.Eventually(t, 5*time.Second, "backup cache forwarded", func() bool { return b.Detail().History.Cached == 0 })
	}
	outage(0)
	if n := len(countByTS(t, m)); n != 3 {
		t.Fatalf("master has %d points after the first outage, want 3", n)
	}
	b.stop()
	bc.DataDir = filepath.Join(t.TempDir(), "rebuilt")
	b = startGW(t, bc, nil)
	waitRole(t, b, RoleStandby, 5*time.Second)
	outage(100)
	if c := countByTS(t, m); len(c) != 6 {
		t.Fatalf("master has %d points, want 6: the rebuilt backup's acknowledged points were lost as repeats (history %+v)",
			len(c), b.Detail().History)
	}
}
