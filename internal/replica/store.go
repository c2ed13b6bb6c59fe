// Package replica keeps each provider's data in bbolt together with a
// durable change log, and copies it from a leader to a follower.
//
// A provider (config, state, ...) is a set of key/value documents. On the
// leader every Put or Delete is written, in one bbolt transaction, to the
// provider's log under the next sequence number; the call returns only
// after the commit, so an acknowledged write survives kill -9 (concurrent
// writes share a commit through bbolt's Batch). The log keeps at most
// CacheBytes of entries (the oldest are dropped, never one that is not yet
// in the data: see checkpoint.go for how the data bucket follows the log).
//
// A follower pulls the entries after its last applied sequence (the leader
// holds the pull until there is something new, so lag stays small) and
// commits each batch to its inbox in one transaction. When it is too far behind (its
// position is older than the retained log), when the leader's log is a
// different one (the leader was replaced or changed direction), or when an
// operator forces it, it copies a full snapshot instead (page by page into
// a staging bucket that replaces the data only once complete) and records
// a system Event saying why.
//
// Every stored value of the data, the log and the inbox ends with a
// CRC-32C of its key and bytes, checked on every read; a damaged value is
// refused, counted and never sent (integrity.go; the file's format and its
// migration: format.go).
//
// Leader side: Put, Delete, Get, List, Lead, Serve (the request handler).
// Follower side: Follow (one loop per provider over any Requester such as a
// peer.Node), ForceFullSync. Both: Stats, Events, Position.
package replica

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/logging"
)

// DefaultCacheBytes is the default retained log size (Ignition's 100 MB).
const DefaultCacheBytes = 100 << 20

// Options tune a Store.
type Options struct {
	Providers  []string // provider names, e.g. config, state
	CacheBytes int64    // retained log size per provider
	Log        *slog.Logger
	// OnEvent is called for every recorded system event.
	OnEvent func(Event)
	// OnApply is called on a follower after each applied batch (benchmarks
	// measure replication lag with it); it must not block.
	OnApply func(provider string, entries []Entry)
	// NoSync skips fsync (tests and benchmarks only: loses durability).
	NoSync bool
	// KeepOnEmpty names providers whose documents a full sync does not
	// replace with an empty copy unless an operator forced it
	// (ForceFullSync): a leader that lost its data would otherwise wipe
	// the follower's, the one copy left.
	KeepOnEmpty []string
	// Sealed names the caller's own buckets whose values end with a
	// checksum (written with Seal, read with Unseal): Open verifies them
	// with the store's own and migrates them with the file's format.
	Sealed []string
}

// Store is one node's replicated data.
type Store struct {
	db   *bolt.DB
	path string
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	notify map[string]chan struct{} // closed on each commit
	stats  map[string]*provStats
	events []Event
	cpErr  string          // the last checkpoint's error, "" once one succeeds
	holds  map[string]hold // per provider: a snapshot being copied
	damage damageStats
	// follower says which providers hold a copy of a leader's log (their
	// damaged data is copied again); broken holds, per provider, the
	// damage that stopped its pending changes from reaching the data:
	// reads of it are refused until a full copy replaces it
	follower map[string]bool
	broken   map[string]error

	ov     map[string]*overlay // per provider: changes not yet in the data
	kickc  chan struct{}
	stop   chan struct{}
	cpDone chan struct{}
	once   sync.Once

	// the writer's queue (batch.go), its stop and its end
	wq    chan *wcall
	wstop chan struct{}
	wdone chan struct{}
	wonce sync.Once
}

// Item is one document.
type Item struct {
	Key     string `json:"key"`
	Value   []byte `json:"value"`
	Version uint64 `json:"version"` // the sequence that last wrote it
}

// Position is where a provider's log and follower stand.
type Position struct {
	LogID    string `json:"log_id"`    // this node's own log
	First    uint64 `json:"first_seq"` // oldest retained entry
	Last     uint64 `json:"last_seq"`  // newest entry
	SrcLogID string `json:"source_log_id,omitempty"`
	Applied  uint64 `json:"applied_seq"` // last entry applied from SrcLogID
}

// ErrUnknownProvider is returned for a provider not named in Options.
var ErrUnknownProvider = errors.New("replica: unknown provider")

var (
	keyLogID    = []byte("log_id")
	keyFirst    = []byte("first")
	keyLast     = []byte("last")
	keyLogBytes = []byte("log_bytes")
	keySrc      = []byte("src_log_id")
	keyApplied  = []byte("applied")
	// keyAppliedSum is entrySum of the entry applied last (a follower
	// checks it at the start of each run: verifyBack)
	keyAppliedSum = []byte("applied_sum")
	keyData       = []byte("data") // name of the live data bucket
)

// Open opens (creating if needed) the store at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	if opts.Log == nil {
		opts.Log = logging.Discard()
	}
	if err := checkFile(path); err != nil {
		return nil, fmt.Errorf("replica: open %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("replica: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, opts: opts, log: opts.Log, notify: map[string]chan struct{}{}, stats: map[string]*provStats{},
		ov: map[string]*overlay{}, holds: map[string]hold{}, kickc: make(chan struct{}, 1), stop: make(chan struct{}), cpDone: make(chan struct{}),
		damage: damageStats{seen: map[string]bool{}}, follower: map[string]bool{}, broken: map[string]error{},
		wq: make(chan *wcall), wstop: make(chan struct{}), wdone: make(chan struct{})}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("replica: init %s: %w", path, err)
	}
	go s.checkpointer()
	go s.writer()
	return s, nil
}

// init migrates the file to the current format, creates the providers'
// buckets, verifies every checksum (damage is counted and shown, not
// fatal) and applies what a crash left pending.
func (s *Store) init() error {
	err := s.update("open", func(tx *bolt.Tx) error {
		if err := s.migrate(tx); err != nil {
			return err
		}
		for _, p := range s.opts.Providers {
			if err := initProvider(tx, p); err != nil {
				return err
			}
			if err := initDocCount(tx, p); err != nil {
				return err
			}
			s.notify[p] = make(chan struct{})
			s.stats[p] = newProvStats()
			s.ov[p] = newOverlay()
			s.follower[p] = tx.Bucket(bucketName(p, "meta")).Get(keySrc) != nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.verifyAll(); err != nil && !errors.Is(err, ErrDamaged) {
		return err
	}
	for _, p := range s.opts.Providers {
		// a crash may have left changes that are durable in the log or
		// inbox but not yet in the data: apply them now
		var upto [2]uint64
		err := s.update("open", func(tx *bolt.Tx) error {
			b, err := s.buckets(tx, p)
			if err != nil {
				return err
			}
			upto, _, err = s.applyPending(tx, p, b)
			return err
		})
		switch {
		case errors.Is(err, ErrDamaged):
			s.breakProvider(p, err)
		case err != nil:
			return fmt.Errorf("replaying the changes not yet applied: %w", err)
		}
		s.ov[p].applied = upto
	}
	return nil
}

func initProvider(tx *bolt.Tx, p string) error {
	meta, err := tx.CreateBucketIfNotExists(bucketName(p, "meta"))
	if err != nil {
		return err
	}
	if meta.Get(keyLogID) == nil {
		if err := meta.Put(keyLogID, []byte(newLogID())); err != nil {
			return err
		}
		if err := meta.Put(keyData, []byte("data0")); err != nil {
			return err
		}
	}
	if _, err := tx.CreateBucketIfNotExists(bucketName(p, "log")); err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(bucketName(p, "inbox")); err != nil {
		return err
	}
	// a store written before the data followed the log lazily has all of
	// its log and pulled entries in the data already
	if meta.Get(keyLogData) == nil {
		if err := meta.Put(keyLogData, be(u64(meta.Get(keyLast)))); err != nil {
			return err
		}
	}
	if meta.Get(keyInboxData) == nil {
		if err := meta.Put(keyInboxData, be(u64(meta.Get(keyApplied)))); err != nil {
			return err
		}
	}
	_, err = tx.CreateBucketIfNotExists(dataName(p, meta))
	return err
}

func bucketName(p, part string) []byte { return []byte("p/" + p + "/" + part) }

func dataName(p string, meta *bolt.Bucket) []byte { return bucketName(p, string(meta.Get(keyData))) }

func newLogID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// DB gives the caller the underlying database for its own buckets (names
// must not start with "p/").
func (s *Store) DB() *bolt.DB { return s.db }

// Close applies what is pending to the data and closes the database.
func (s *Store) Close() error {
	s.stopWriter() // the writes in flight commit first
	s.once.Do(func() {
		close(s.stop)
		<-s.cpDone
		if err := s.checkpoint(); err != nil {
			s.log.Warn("replica: last checkpoint failed (the next open applies the log)", "err", err)
		}
	})
	return s.db.Close()
}

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func be(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// buckets are one provider's buckets inside a transaction.
type buckets struct{ meta, log, inbox, data *bolt.Bucket }

func (s *Store) buckets(tx *bolt.Tx, p string) (buckets, error) {
	meta := tx.Bucket(bucketName(p, "meta"))
	if meta == nil {
		return buckets{}, fmt.Errorf("%w %q", ErrUnknownProvider, p)
	}
	return buckets{meta: meta, log: tx.Bucket(bucketName(p, "log")), inbox: tx.Bucket(bucketName(p, "inbox")),
		data: tx.Bucket(dataName(p, meta))}, nil
}

// Position returns the provider's log and follower position. It waits for
// a follower commit in progress, so a reader that sees a position also
// sees the changes up to it.
func (s *Store) Position(p string) (Position, error) {
	if ov, ok := s.ov[p]; ok {
		ov.mu.Lock()
		defer ov.mu.Unlock()
	}
	var pos Position
	err := s.view("position", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		pos = readPosition(b.meta)
		return nil
	})
	return pos, err
}

func readPosition(m *bolt.Bucket) Position {
	return Position{LogID: string(m.Get(keyLogID)), First: u64(m.Get(keyFirst)), Last: u64(m.Get(keyLast)),
		SrcLogID: string(m.Get(keySrc)), Applied: u64(m.Get(keyApplied))}
}

// wake tells long-polling pulls that provider p has new entries.
func (s *Store) wake(p string) {
	s.mu.Lock()
	if ch, ok := s.notify[p]; ok {
		close(ch)
		s.notify[p] = make(chan struct{})
	}
	s.mu.Unlock()
}

func (s *Store) changed(p string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify[p]
}
