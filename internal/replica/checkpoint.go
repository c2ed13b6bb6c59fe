package replica

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Write-ahead design. An acknowledged change is durable once it is in a
// sequential bucket: the provider's own log (a Put on this node) or its
// inbox (entries pulled from a leader). Copying changes into the data
// bucket, keyed by document, dirties a B+tree page per document, so it is
// not on the acknowledgement path: a checkpointer applies everything
// pending in one transaction every checkpointEvery (sooner when
// checkpointEntries are waiting), newest change per key, in key order. Until
// then Get and List read the pending changes from an in-memory overlay.
// Open replays whatever a crash left unapplied, so nothing acknowledged is
// lost. The meta keys log_data and inbox_data hold how far each stream has
// been applied; the retained log never drops an entry that is not applied.

const (
	checkpointEvery    = 100 * time.Millisecond
	checkpointEntries  = 1 << 16
	checkpointRetryMax = 5 * time.Second
)

var (
	keyLogData   = []byte("log_data")   // last log seq applied to data
	keyInboxData = []byte("inbox_data") // last inbox seq applied to data
)

// stream names where a pending change came from.
type stream uint8

const (
	streamLog stream = iota
	streamInbox
)

type ovEntry struct {
	x   Entry
	src stream
}

// overlay holds one provider's changes that are durable but not yet in the
// data bucket. An entry leaves it only after the checkpoint that applied it
// has committed, so a reader that misses it here finds it in the data.
type overlay struct {
	mu      sync.Mutex
	m       map[string]ovEntry
	applied [2]uint64 // per stream: highest seq known to be in the data
	// gen is bumped by reset (with mu held): a checkpoint that read an
	// older generation must not prune with positions from before the reset.
	// It is atomic so that the checkpoint can read it inside its
	// transaction without taking mu.
	gen atomic.Uint64
	// dirty says a commit added changes since the checkpointer last looked.
	dirty atomic.Bool
}

func newOverlay() *overlay { return &overlay{m: map[string]ovEntry{}} }

// add records committed changes of one stream, oldest first, and returns
// how many changes are pending.
func (o *overlay) add(src stream, xs ...Entry) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.addLocked(src, xs)
}

// addLocked is add with mu held. A change the data already holds (a
// checkpoint overtook the caller) is not added, so it cannot shadow a
// newer value.
func (o *overlay) addLocked(src stream, xs []Entry) int {
	for _, x := range xs {
		if x.Seq <= o.applied[src] {
			continue
		}
		if e, ok := o.m[x.Key]; ok && e.src == src && e.x.Seq > x.Seq {
			continue
		}
		o.m[x.Key] = ovEntry{x: x, src: src}
	}
	o.dirty.Store(true)
	return len(o.m)
}

// get returns the pending change of key, if any.
func (o *overlay) get(key string) (Entry, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.m[key]
	return e.x, ok
}

// prefixed returns the pending changes of keys starting with prefix.
func (o *overlay) prefixed(prefix string) []ovEntry {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []ovEntry
	for k, e := range o.m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// prune records that the data holds each stream up to upto, as read by a
// checkpoint of generation gen, and drops the changes that are now there.
// It does nothing when a reset came in between.
func (o *overlay) prune(upto [2]uint64, gen uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if gen != o.gen.Load() {
		return
	}
	o.applied = upto
	for k, e := range o.m {
		if e.x.Seq <= upto[e.src] {
			delete(o.m, k)
		}
	}
}

// reset empties the overlay after the data was replaced or the streams
// renumbered.
func (o *overlay) reset(upto [2]uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen.Add(1)
	o.applied = upto
	clear(o.m)
}

func (o *overlay) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m)
}

// applyPending copies every change of both streams that is not yet in the
// data bucket into it and returns how far each stream is now applied and
// whether anything was. The inbox is emptied (a follower never serves it).
func (s *Store) applyPending(tx *bolt.Tx, p string, b buckets) (upto [2]uint64, moved bool, err error) {
	var logMoved, inboxMoved bool
	if upto[streamLog], logMoved, err = s.applyStream(p, "log", b, b.log, keyLast, keyLogData); err != nil {
		return upto, false, fmt.Errorf("replica: %s log: %w", p, err)
	}
	if upto[streamInbox], inboxMoved, err = s.applyStream(p, "inbox", b, b.inbox, keyApplied, keyInboxData); err != nil {
		return upto, false, fmt.Errorf("replica: %s inbox: %w", p, err)
	}
	if inboxMoved {
		err = emptyInbox(tx, p)
	}
	return upto, logMoved || inboxMoved, err
}

// applyStream applies the entries of src (a log-shaped bucket) after the
// seq held in meta under doneKey up to the one under headKey, and returns
// the new applied seq and whether it moved.
func (s *Store) applyStream(p, part string, b buckets, src *bolt.Bucket, headKey, doneKey []byte) (uint64, bool, error) {
	head, done := u64(b.meta.Get(headKey)), u64(b.meta.Get(doneKey))
	if head <= done {
		return done, false, nil
	}
	xs, err := s.readEntries(p, part, src, done+1)
	if err != nil {
		return done, false, err
	}
	if err := applyAll(b, xs); err != nil {
		return done, false, err
	}
	return head, true, b.meta.Put(doneKey, be(head))
}

func emptyInbox(tx *bolt.Tx, p string) error {
	if err := tx.DeleteBucket(bucketName(p, "inbox")); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return err
	}
	_, err := tx.CreateBucket(bucketName(p, "inbox"))
	return err
}

// readEntries decodes the entries of a log-shaped bucket (part of p) from
// seq on. The entries point into the database's memory: use them inside
// tx only.
func (s *Store) readEntries(p, part string, bk *bolt.Bucket, from uint64) ([]Entry, error) {
	var xs []Entry
	c := bk.Cursor()
	for k, v := c.Seek(be(from)); k != nil; k, v = c.Next() {
		x, err := s.entryOf(p, part, k, v)
		if err != nil {
			return nil, fmt.Errorf("corrupt entry %d: %w", u64(k), err)
		}
		xs = append(xs, x)
	}
	return xs, nil
}

// applyAll writes the newest change of each key to the data, in key
// order, and keeps the count of documents (keyDocCount) with it.
func applyAll(b buckets, xs []Entry) error {
	n := u64(b.meta.Get(keyDocCount))
	for _, x := range lastPerKey(xs) {
		had := b.data.Get([]byte(x.Key)) != nil
		if err := applyData(b.data, x); err != nil {
			return err
		}
		switch {
		case x.Op == OpPut && !had:
			n++
		case x.Op == OpDelete && had && n > 0:
			n--
		}
	}
	return b.meta.Put(keyDocCount, be(n))
}

// errNothing rolls back a checkpoint that found nothing to apply (an empty
// commit would still write and fsync a meta page).
var errNothing = errors.New("nothing to apply")

// checkpoint applies the pending changes of every provider that had a
// commit since the last one, in one transaction.
func (s *Store) checkpoint() error {
	var todo []string
	for _, p := range s.opts.Providers {
		if s.ov[p].dirty.Swap(false) {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	type result struct {
		upto [2]uint64
		gen  uint64
	}
	res := map[string]result{}
	err := s.update("a checkpoint", func(tx *bolt.Tx) error {
		moved := false
		for _, p := range todo {
			if s.brokenErr(p) != nil {
				continue // its pending changes stay in the log (or go with a full copy)
			}
			gen := s.ov[p].gen.Load()
			b, err := s.buckets(tx, p)
			if err != nil {
				return err
			}
			u, m, err := s.applyPending(tx, p, b)
			if errors.Is(err, ErrDamaged) {
				// the other providers go on; reads of p are refused
				s.breakProvider(p, err)
				continue
			}
			if err != nil {
				return err
			}
			res[p] = result{u, gen}
			moved = moved || m
		}
		if !moved {
			return errNothing
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNothing) {
		for _, p := range todo {
			s.ov[p].dirty.Store(true) // try again
		}
		return err
	}
	for p, r := range res {
		s.ov[p].prune(r.upto, r.gen)
	}
	return nil
}

// kick asks the checkpointer to run soon (a provider has many changes
// waiting).
func (s *Store) kick() {
	select {
	case s.kickc <- struct{}{}:
	default:
	}
}

// checkpointer runs checkpoint until Close. After a failure it waits
// longer each time (up to checkpointRetryMax) and ignores kicks, and the
// error shows in every provider's Stats until a checkpoint succeeds.
func (s *Store) checkpointer() {
	defer close(s.cpDone)
	wait := checkpointEvery
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		kick := s.kickc
		if wait > checkpointEvery {
			kick = nil
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-kick:
			t.Stop()
		}
		err := s.checkpoint()
		s.setCheckpointErr(err)
		if err != nil {
			wait = min(2*wait, checkpointRetryMax)
			s.log.Error("replica checkpoint failed: changes stay in the log and are applied on the next try or at open",
				"err", err, "retry_in", wait)
		} else {
			wait = checkpointEvery
		}
		t.Reset(wait)
	}
}

func (s *Store) setCheckpointErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cpErr = ""
	if err != nil {
		s.cpErr = err.Error()
	}
}

// itemOf makes an Item of a value stored in p's data bucket (sv, with its
// checksum); a value too short to hold a version is no document.
func (s *Store) itemOf(p string, meta *bolt.Bucket, key string, sv []byte) (Item, bool, error) {
	if sv == nil {
		return Item{}, false, nil
	}
	v, err := s.open(p, string(meta.Get(keyData)), []byte(key), sv)
	if err != nil || len(v) < 8 {
		return Item{}, false, err
	}
	return Item{Key: key, Version: u64(v[:8]), Value: bytes.Clone(v[8:])}, true, nil
}

// entryOf decodes an entry stored in a log-shaped bucket (part of p).
func (s *Store) entryOf(p, part string, k, sv []byte) (Entry, error) {
	v, err := s.open(p, part, k, sv)
	if err != nil {
		return Entry{}, err
	}
	x, err := decodeEntry(v)
	if err == nil && !bytes.Equal(be(x.Seq), k) {
		err = fmt.Errorf("entry numbered %d under key %d", x.Seq, u64(k))
	}
	return x, err
}
