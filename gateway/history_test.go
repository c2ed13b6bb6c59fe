package gateway

import (
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// historyPartition runs the partition scenario: the link is cut (both nodes
// active: the master was only unreachable), the same points are posted to
// both, then the master really goes down and more points go to the backup,
// then the master returns and the link heals.
func historyPartition(t *testing.T, mode string) (m2, b *gw, p1, p2 []Point) {
	return historyPartitionDSN(t, mode, "")
}

func historyPartitionDSN(t *testing.T, mode, dsn string) (m2, b *gw, p1, p2 []Point) {
	var px *proxy
	m, b, addr := pair(t, func(mc, bc *Config) {
		mc.History, bc.History = mode, mode
		mc.HistoryDSN, bc.HistoryDSN = config.Secret(dsn), config.Secret(dsn)
		px = newProxy(t, bc.Peer)
		bc.Peer = px.addr()
	})
	px.setCut(true)
	waitRole(t, b, RoleActive, 3*time.Second)
	if m.Role() != RoleActive {
		t.Fatal("the master should still be active behind the cut link")
	}
	time.Sleep(20 * time.Millisecond) // sleep: points are sampled in the past, while both are active
	base := time.Now().UnixMilli() - 15
	for i := range 10 {
		p1 = append(p1, Point{Tag: "flow", TSMS: base + int64(i), Value: float64(i)})
	}
	for _, n := range []*gw{m, b} {
		if _, err := n.PostHistory(p1); err != nil {
			t.Fatal(err)
		}
	}
	m.stop()
	time.Sleep(30 * time.Millisecond) // sleep: the second batch is timestamped after the stop
	base = time.Now().UnixMilli() - 15
	for i := range 10 {
		p2 = append(p2, Point{Tag: "flow", TSMS: base + int64(i), Value: float64(100 + i)})
	}
	if _, err := b.PostHistory(p2); err != nil {
		t.Fatal(err)
	}
	mc := m.cfg
	mc.JoinWait = 5_000_000_000
	m2 = startGW(t, mc, listen(t, addr))
	px.setCut(false)
	waitRole(t, m2, RoleActive, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "backup cache forwarded", func() bool {
		h := b.Detail().History
		if dsn != "" && mode == HistoryFull {
			return h.Cached == 0 // written straight into the shared database
		}
		return h.Cached == 0 && h.Forwarded+h.Dropped >= 10
	})
	return m2, b, p1, p2
}

func countByTS(t *testing.T, n *gw) map[int64]int {
	pts, err := n.QueryHistory("flow", 0, time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	c := map[int64]int{}
	for _, p := range pts {
		c[p.TSMS]++
	}
	return c
}

func TestPartialHistoryForwardsOnlyWhileMasterWasDown(t *testing.T) {
	m, b, p1, p2 := historyPartition(t, HistoryPartial)
	c := countByTS(t, m)
	for _, p := range append(p1, p2...) {
		if c[p.TSMS] != 1 {
			t.Fatalf("point at %d stored %d times on the master (want exactly once); all: %v", p.TSMS, c[p.TSMS], c)
		}
	}
	if len(c) != 20 {
		t.Fatalf("master has %d distinct points, want 20", len(c))
	}
	h := b.Detail().History
	if h.Forwarded != 10 || h.Dropped != 10 {
		t.Fatalf("forwarded %d dropped %d, want 10 and 10", h.Forwarded, h.Dropped)
	}
}

// Full mode writes on the active backup directly and forwards everything:
// points taken while the master was only unreachable end up twice on the
// master (the documented cost of full mode), none is lost.
func TestFullHistoryDuplicatesWhenMasterWasOnlyUnreachable(t *testing.T) {
	m, b, p1, p2 := historyPartition(t, HistoryFull)
	c := countByTS(t, m)
	for _, p := range p1 {
		if c[p.TSMS] != 2 {
			t.Fatalf("full mode: point at %d stored %d times, want 2 (duplicate)", p.TSMS, c[p.TSMS])
		}
	}
	for _, p := range p2 {
		if c[p.TSMS] != 1 {
			t.Fatalf("point at %d stored %d times, want 1", p.TSMS, c[p.TSMS])
		}
	}
	if local := countByTS(t, b); len(local) != 20 {
		t.Fatalf("the backup's own store has %d points, want 20", len(local))
	}
}
