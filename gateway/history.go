package gateway

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/replica"
)

// Point is one timestamped history value.
type Point struct {
	Tag   string  `json:"tag"`
	TSMS  int64   `json:"ts_ms"` // unix milliseconds
	Value float64 `json:"value"`
	// Seq numbers a point cached on the backup (set when forwarded).
	Seq uint64 `json:"seq,omitempty"`
	// Fence is the witness's fencing token of the node that took the point
	// (0 without the witness).
	Fence int64 `json:"fence,omitempty"`
}

// historyStore is the node's history database plus the backup's cache of
// points waiting to be forwarded to the master.
type historyStore struct {
	db     *sql.DB
	pg     bool   // PostgreSQL (placeholders $n), else SQLite
	shared bool   // the database is shared by both nodes (PostgreSQL)
	node   string // this node's id (uptime intervals are per node)
	// cacheID tells this cache from an earlier one of the same node
	cacheID string
	// kv is replica.db, where the cache and the quarantine live, their
	// values sealed with a checksum (sealedBuckets)
	kv    *replica.Store
	runID atomic.Int64 // open active interval (master), 0 when none

	mu                 sync.Mutex
	forwarded, dropped int64
	repeated           int64 // forwarded points the master already had
	lastForward        time.Time
	lastForwardErr     string
	refusedInRow       int // the master's refusals of forwarded batches in a row
	wake               chan struct{}
}

var (
	bucketHistCache = []byte("history_cache")
	bucketHistMeta  = []byte("history_cache_meta")
	// bucketHistBad holds cached entries that cannot be forwarded (not a
	// point, a point under another key, one the master would refuse or
	// kept refusing, or a damaged one), as they were (the cache's stored
	// bytes, their checksum included), under their key and sealed again:
	// kept for the operator, out of the way of the points behind them.
	bucketHistBad = []byte("history_cache_quarantine")
	keyCacheID    = []byte("id")
)

// sealedBuckets are the gateway's buckets in replica.db whose values carry
// a checksum (replica.Seal), checked on every read.
var sealedBuckets = []string{string(bucketHistCache), string(bucketHistBad), string(bucketGateway)}

// source names this node's cache to the master: (source, seq) is unique
// across caches made again.
func (h *historyStore) source() string {
	if h.cacheID == "" {
		return h.node
	}
	return h.node + "#" + h.cacheID
}

func (h *historyStore) close() { h.db.Close() }

// insert writes points in one transaction; source/seq identify forwarded
// points so that a repeated forward is ignored. An open active interval
// is extended to now in the same transaction.
func (h *historyStore) insert(points []Point, source string) (int, error) {
	tx, err := h.db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare(h.insertSQL())
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	n := 0
	for _, p := range points {
		var src, seq any
		if source != "" {
			src, seq = source, int64(p.Seq)
		}
		var fence any
		if p.Fence > 0 {
			fence = p.Fence
		}
		r, err := stmt.Exec(p.Tag, p.TSMS, p.Value, src, seq, fence)
		if err != nil {
			return 0, err
		}
		if k, _ := r.RowsAffected(); k > 0 {
			n++
		}
	}
	if run := h.runID.Load(); run != 0 {
		if _, err := tx.Exec(h.q(`UPDATE uptime SET alive_ms = ? WHERE run = ?`), time.Now().UnixMilli(), run); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}

// query returns a tag's points in [from, to] (ms), oldest first.
func (h *historyStore) query(tag string, from, to int64) ([]Point, error) {
	rows, err := h.db.Query(h.q(`SELECT tag, ts_ms, value, COALESCE(fence, 0) FROM points WHERE tag = ? AND ts_ms BETWEEN ? AND ? ORDER BY ts_ms, id`), tag, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Point
	for rows.Next() {
		var p Point
		if err := rows.Scan(&p.Tag, &p.TSMS, &p.Value, &p.Fence); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// cache stores points durably for later forwarding.
func (h *historyStore) cache(points []Point) error {
	err := h.kv.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistCache)
		for _, p := range points {
			seq, _ := b.NextSequence()
			p.Seq = seq
			v, _ := json.Marshal(p)
			k := be64(seq)
			if err := b.Put(k, replica.Seal(k, v)); err != nil {
				return err
			}
		}
		return nil
	})
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return err
}

// be64 is a cache key: big-endian, so keys sort by sequence.
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// cached returns up to n cached points, oldest first, and the total count.
func (h *historyStore) cached(n int) ([]Point, int, error) {
	var out []Point
	total := 0
	err := h.kv.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistCache)
		total = b.Stats().KeyN
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			var p Point
			// a damaged entry is counted when forwardable sets it aside,
			// not on every look of the status
			if v, ok := replica.Verify(k, v); ok && json.Unmarshal(v, &p) == nil {
				out = append(out, p)
			}
		}
		return nil
	})
	return out, total, err
}

// parseCached decodes the cache entry stored under key and checks that it
// can be forwarded: a point (as cache wrote it) numbered as its key, that
// the master would accept.
func parseCached(key, v []byte) (Point, error) {
	var p Point
	if len(key) != 8 {
		return p, fmt.Errorf("key of %d bytes", len(key))
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return p, fmt.Errorf("not a point: %w", err)
	}
	if seq := binary.BigEndian.Uint64(key); p.Seq != seq || seq == 0 {
		return p, fmt.Errorf("point numbered %d under key %d", p.Seq, seq)
	}
	return p, checkPoint(p)
}

// forwardable returns up to n cached points that can be forwarded, oldest
// first, and how many entries the cache holds. An entry that cannot be
// forwarded is moved to the quarantine bucket (it stayed in the cache for
// ever: skipped and counted, or sent and refused with every batch behind
// it); the reasons come back for the log and the system events.
func (h *historyStore) forwardable(n int) (out []Point, total int, bad []string, err error) {
	err = h.kv.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistCache)
		var q *bolt.Bucket
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			// a damaged entry (its checksum does not match) is set aside
			// with the rest: it is counted and recorded by the store
			pv, perr := h.kv.Unseal(string(bucketHistCache), k, v)
			var p Point
			if perr == nil {
				p, perr = parseCached(k, pv)
			}
			if perr == nil {
				out = append(out, p)
				continue
			}
			if q == nil {
				if q, err = tx.CreateBucketIfNotExists(bucketHistBad); err != nil {
					return err
				}
			}
			// the entry as the cache held it (its checksum included), sealed
			if err := q.Put(bytes.Clone(k), replica.Seal(k, v)); err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
			bad = append(bad, fmt.Sprintf("entry %x: %v", k, perr))
		}
		total = b.Stats().KeyN
		return nil
	})
	if err != nil {
		return nil, 0, nil, err
	}
	return out, total, bad, nil
}

// quarantined is how many cache entries were set aside (forwardable).
func (h *historyStore) quarantined() int {
	n := 0
	_ = h.kv.View(func(tx *bolt.Tx) error {
		if q := tx.Bucket(bucketHistBad); q != nil {
			n = q.Stats().KeyN
		}
		return nil
	})
	return n
}

// quarantine moves the cache entry of seq (if still there) into the
// quarantine bucket, as it was.
func (h *historyStore) quarantine(seq uint64) error {
	return h.kv.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistCache)
		k := be64(seq)
		v := b.Get(k)
		if v == nil {
			return nil
		}
		q, err := tx.CreateBucketIfNotExists(bucketHistBad)
		if err != nil {
			return err
		}
		if err := q.Put(k, replica.Seal(k, v)); err != nil { // as forwardable keeps them
			return err
		}
		return b.Delete(k)
	})
}

func (h *historyStore) uncache(points []Point) error {
	return h.kv.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistCache)
		for _, p := range points {
			if err := b.Delete(be64(p.Seq)); err != nil {
				return err
			}
		}
		return nil
	})
}

// uptimeLoop records the master's active intervals every 100 ms.
func (h *historyStore) uptimeLoop(active func() bool) func(context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			h.markUptime(active())
			select {
			case <-ctx.Done():
				h.markUptime(active())
				return
			case <-t.C:
			}
		}
	}
}

func (h *historyStore) markUptime(active bool) {
	now := time.Now().UnixMilli()
	run := h.runID.Load()
	switch {
	case active && run == 0:
		var id int64
		err := h.db.QueryRow(h.q(`INSERT INTO uptime(node, start_ms, alive_ms) VALUES (?, ?, ?) RETURNING run`), h.node, now, now).Scan(&id)
		if err == nil {
			h.runID.Store(id)
		}
	case active:
		_, _ = h.db.Exec(h.q(`UPDATE uptime SET alive_ms = ? WHERE run = ?`), now, run)
	case run != 0:
		_, _ = h.db.Exec(h.q(`UPDATE uptime SET alive_ms = ? WHERE run = ?`), now, run)
		h.runID.Store(0)
	}
}

// interval is a span in which the master was active, in unix ms.
type interval struct{ From, To int64 }

func (h *historyStore) intervals() ([]interval, error) {
	rows, err := h.db.Query(h.q(`SELECT start_ms, alive_ms FROM uptime WHERE node = ? ORDER BY run DESC LIMIT 10000`), h.node)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []interval
	for rows.Next() {
		var iv interval
		if err := rows.Scan(&iv.From, &iv.To); err != nil {
			return nil, err
		}
		out = append(out, iv)
	}
	if h.runID.Load() != 0 && len(out) > 0 {
		out[0].To = time.Now().UnixMilli() // the open interval runs until now
	}
	return out, rows.Err()
}

func (h *historyStore) uptimeJSON() ([]byte, error) {
	iv, err := h.intervals()
	if err != nil {
		return nil, err
	}
	return json.Marshal(iv)
}

type forwardReq struct {
	Source string  `json:"source"`
	Points []Point `json:"points"`
}

// maxForward bounds one forwarded batch.
const maxForward = 10000

// parseForward decodes and checks a batch of forwarded points.
func parseForward(body []byte) (forwardReq, error) {
	var r forwardReq
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("bad history batch: %w", err)
	}
	if r.Source == "" || len(r.Source) > 256 {
		return r, fmt.Errorf("bad history batch: bad source")
	}
	if len(r.Points) > maxForward {
		return r, fmt.Errorf("bad history batch: %d points (limit %d)", len(r.Points), maxForward)
	}
	for i, p := range r.Points {
		if p.Seq == 0 {
			return r, fmt.Errorf("bad history batch: point %d lacks seq", i)
		}
		if err := checkPoint(p); err != nil {
			return r, fmt.Errorf("bad history batch: point %d: %w", i, err)
		}
	}
	return r, nil
}

// acceptForwarded stores points forwarded by the backup (idempotent).
func (h *historyStore) acceptForwarded(body []byte) ([]byte, error) {
	r, err := parseForward(body)
	if err != nil {
		return nil, err
	}
	n, err := h.insert(r.Points, r.Source)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]int{"inserted": n})
}
