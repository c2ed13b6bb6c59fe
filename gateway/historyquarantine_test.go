package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/testutil"
)

// TestCorruptCacheEntriesQuarantined: cache entries the master cannot take
// (bytes that are not a point, a point with a NUL in its tag as an older
// version could cache, a point numbered other than its key) are set aside
// in a quarantine bucket, counted in the status, and the good points
// behind them are forwarded. The undecodable one stayed in the cache for
// ever (counted in cached, never sent), the NUL one made the master
// refuse every batch that carried it, so no point behind it ever reached
// the master, retried every second.
func TestCorruptCacheEntriesQuarantined(t *testing.T) {
	m, b, addr := pair(t, func(mc, bc *Config) { mc.History, bc.History = HistoryPartial, HistoryPartial })
	m.stop()
	waitRole(t, b, RoleActive, 5*time.Second)
	now := time.Now().UnixMilli()
	if _, err := b.PostHistory([]Point{{Tag: "flow", TSMS: now, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	err := b.Store().DB().Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistCache)
		put := func(v func(seq uint64) []byte) error {
			seq, _ := c.NextSequence()
			return c.Put(be64(seq), v(seq))
		}
		point := func(p Point) func(uint64) []byte {
			return func(seq uint64) []byte {
				if p.Seq == 0 {
					p.Seq = seq
				}
				v, _ := json.Marshal(p)
				return v
			}
		}
		for _, v := range []func(uint64) []byte{
			func(uint64) []byte { return []byte{0xff, 0x00, '{'} },
			point(Point{Tag: "flow\x00", TSMS: now + 1, Value: 2}),
			point(Point{Tag: "flow", TSMS: now + 2, Value: 3, Seq: 999}),
		} {
			if err := put(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.PostHistory([]Point{{Tag: "flow", TSMS: now + 3, Value: 4}}); err != nil {
		t.Fatal(err)
	}
	mc := m.cfg
	mc.JoinWait = 5_000_000_000
	m2 := startGW(t, mc, listen(t, addr))
	waitRole(t, m2, RoleActive, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "the good points forwarded, the bad ones set aside", func() bool {
		c := countByTS(t, m2)
		h := b.Detail().History
		return c[now] == 1 && c[now+3] == 1 && len(c) == 2 && h.Cached == 0 && h.Quarantined == 3
	})
	found := false
	for _, e := range b.Detail().Events {
		found = found || strings.Contains(e.Message, "set aside 3 cached entries")
	}
	if !found {
		t.Fatalf("no system event for the quarantine: %+v", b.Detail().Events)
	}
}

// FuzzCachedEntry feeds arbitrary keys and values to the check of a cache
// entry: an accepted one is a point the master would take, numbered as
// its key.
func FuzzCachedEntry(f *testing.F) {
	f.Add(be64(1), []byte(`{"tag":"t","ts_ms":1,"value":2,"seq":1}`))
	f.Add(be64(2), []byte(`{"tag":"t\u0000","ts_ms":1,"value":2,"seq":2}`))
	f.Add([]byte{1}, []byte(`{}`))
	f.Add(be64(0), []byte(`{"tag":"t","ts_ms":1,"value":2}`))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		p, err := parseCached(k, v)
		if err != nil {
			return
		}
		if p.Seq == 0 || be64(p.Seq) == nil || string(be64(p.Seq)) != string(k) || checkPoint(p) != nil {
			t.Fatalf("accepted %+v under %x", p, k)
		}
		if _, err := parseForward(mustJSON(t, forwardReq{Source: "s", Points: []Point{p}})); err != nil {
			t.Fatalf("the master refuses an accepted entry: %v", err)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
