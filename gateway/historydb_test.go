package gateway

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/redund/redund/internal/replica"
)

// openTestHistory opens the embedded (SQLite) history store in a fresh
// directory, as New does, and closes it when the test ends.
func openTestHistory(tb testing.TB) *historyStore {
	tb.Helper()
	dir := tb.TempDir()
	st, err := replica.Open(filepath.Join(dir, "replica.db"), replica.Options{Providers: []string{ProvConfig}})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := openHistory(Config{NodeID: "n1", DataDir: dir}, st)
	if err != nil {
		st.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.close(); st.Close() })
	return h
}

// The embedded store must keep its durability settings: WAL, a full fsync
// per commit, and a busy timeout (a second connection waits instead of
// failing with SQLITE_BUSY).
func TestSQLiteHistoryPragmas(t *testing.T) {
	h := openTestHistory(t)
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "5000"},
		{"foreign_keys", "0"}, // unchanged from SQLite's default
	} {
		t.Run(c.pragma, func(t *testing.T) {
			var got string
			if err := h.db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", c.pragma, err)
			}
			if got != c.want {
				t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
			}
		})
	}
}

func TestSQLiteHistoryInsertQuery(t *testing.T) {
	h := openTestHistory(t)
	pts := []Point{{Tag: "flow", TSMS: 10, Value: 1.5}, {Tag: "flow", TSMS: 20, Value: 2.5}, {Tag: "other", TSMS: 15, Value: 9}}
	if n, err := h.insert(pts, ""); err != nil || n != 3 {
		t.Fatalf("insert = %d, %v; want 3, nil", n, err)
	}
	fwd := []Point{{Tag: "flow", TSMS: 30, Value: 3, Seq: 1}}
	for range 2 { // a repeated forward is ignored
		if _, err := h.insert(fwd, "backup"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.query("flow", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{Tag: "flow", TSMS: 10, Value: 1.5}, {Tag: "flow", TSMS: 20, Value: 2.5}, {Tag: "flow", TSMS: 30, Value: 3}}
	if len(got) != len(want) {
		t.Fatalf("query = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("query[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// BenchmarkHistoryStore measures the embedded history store's write rate:
// each op is one durable transaction (WAL, synchronous=FULL) of batch
// points, as PostHistory writes them; points/s is the figure to compare.
func BenchmarkHistoryStore(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			h := openTestHistory(b)
			pts := make([]Point, batch)
			ts := int64(1)
			for b.Loop() {
				for i := range pts {
					pts[i] = Point{Tag: "flow", TSMS: ts, Value: float64(ts)}
					ts++
				}
				if _, err := h.insert(pts, ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
