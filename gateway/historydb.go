package gateway

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL history store (history_dsn = "postgres://...")
	bolt "go.etcd.io/bbolt"
	_ "modernc.org/sqlite" // the embedded history store, in pure Go (no cgo)

	"github.com/redund/redund/internal/replica"
)

var sqliteSchema = []string{
	`CREATE TABLE IF NOT EXISTS points (
	id INTEGER PRIMARY KEY,
	tag TEXT NOT NULL,
	ts_ms INTEGER NOT NULL,
	value REAL NOT NULL,
	source TEXT,
	source_seq INTEGER,
	fence INTEGER,
	UNIQUE(source, source_seq))`,
	`CREATE INDEX IF NOT EXISTS points_tag_ts ON points(tag, ts_ms)`,
	`CREATE TABLE IF NOT EXISTS uptime (
	run INTEGER PRIMARY KEY AUTOINCREMENT,
	node TEXT NOT NULL,
	start_ms INTEGER NOT NULL,
	alive_ms INTEGER NOT NULL)`,
}

var pgSchema = []string{
	`CREATE TABLE IF NOT EXISTS points (
	id BIGSERIAL PRIMARY KEY,
	tag TEXT NOT NULL,
	ts_ms BIGINT NOT NULL,
	value DOUBLE PRECISION NOT NULL,
	source TEXT,
	source_seq BIGINT,
	fence BIGINT,
	UNIQUE(source, source_seq))`,
	`CREATE INDEX IF NOT EXISTS points_tag_ts ON points(tag, ts_ms)`,
	`ALTER TABLE points ADD COLUMN IF NOT EXISTS fence BIGINT`, // stores made before the witness
	`CREATE TABLE IF NOT EXISTS uptime (
	run BIGSERIAL PRIMARY KEY,
	node TEXT NOT NULL,
	start_ms BIGINT NOT NULL,
	alive_ms BIGINT NOT NULL)`,
}

// isPostgres reports whether a history_dsn names PostgreSQL.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openHistory opens the history store: SQLite in data_dir (or at
// history_dsn = "sqlite:/path"), or PostgreSQL (history_dsn =
// "postgres://..."), which both nodes may share.
func openHistory(c Config, st *replica.Store) (*historyStore, error) {
	dsn := c.HistoryDSN.Reveal()
	h := &historyStore{kv: st, node: c.NodeID, wake: make(chan struct{}, 1)}
	var err error
	schema := sqliteSchema
	if isPostgres(dsn) {
		h.pg, h.shared, schema = true, true, pgSchema
		h.db, err = sql.Open("pgx", dsn)
	} else {
		path := filepath.Join(c.DataDir, "history.db")
		if strings.HasPrefix(dsn, "sqlite:") {
			path = strings.TrimPrefix(dsn, "sqlite:")
		}
		h.db, err = sql.Open("sqlite", sqliteDSN(path))
		if err == nil {
			h.db.SetMaxOpenConns(1)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: history: %w", err)
	}
	for _, stmt := range schema {
		if _, err := h.db.Exec(stmt); err != nil {
			h.db.Close()
			return nil, fmt.Errorf("gateway: history store: %w", err)
		}
	}
	if !h.pg {
		if err := addSQLiteFence(h.db); err != nil {
			h.db.Close()
			return nil, fmt.Errorf("gateway: history store: %w", err)
		}
	}
	err = st.Update(func(tx *bolt.Tx) error {
		id, err := openCache(tx)
		h.cacheID = id
		return err
	})
	if err != nil {
		h.db.Close()
		return nil, fmt.Errorf("gateway: history cache: %w", err)
	}
	return h, nil
}

// openCache creates the cache bucket and returns the cache's id: random,
// made with the bucket, so that a cache made again (a rebuilt data_dir)
// numbers its points under another source than the old one, whose numbers
// the master already has. A cache made before the id existed keeps ""
// (its points keep their source).
func openCache(tx *bolt.Tx) (string, error) {
	meta, err := tx.CreateBucketIfNotExists(bucketHistMeta)
	if err != nil {
		return "", err
	}
	if id := meta.Get(keyCacheID); id != nil {
		return string(id), nil
	}
	b := tx.Bucket(bucketHistCache)
	if b != nil && b.Sequence() > 0 {
		return "", meta.Put(keyCacheID, []byte{})
	}
	if b == nil {
		if _, err := tx.CreateBucket(bucketHistCache); err != nil {
			return "", err
		}
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(r[:])
	return id, meta.Put(keyCacheID, []byte(id))
}

// sqliteDSN opens path in WAL mode with a full fsync per commit and a 5 s
// busy timeout. modernc.org/sqlite runs each _pragma on every new
// connection, busy_timeout first so that switching to WAL waits too.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
}

// q rewrites ? placeholders as $1, $2... for PostgreSQL.
func (h *historyStore) q(s string) string {
	if !h.pg {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (h *historyStore) insertSQL() string {
	if h.pg {
		return `INSERT INTO points(tag, ts_ms, value, source, source_seq, fence) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`
	}
	return `INSERT OR IGNORE INTO points(tag, ts_ms, value, source, source_seq, fence) VALUES (?, ?, ?, ?, ?, ?)`
}

// addSQLiteFence adds the fence column to a store made before the
// witness (SQLite has no ADD COLUMN IF NOT EXISTS).
func addSQLiteFence(db *sql.DB) error {
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('points') WHERE name = 'fence'`).Scan(&n); err != nil || n > 0 {
		return err
	}
	_, err := db.Exec(`ALTER TABLE points ADD COLUMN fence INTEGER`)
	return err
}
