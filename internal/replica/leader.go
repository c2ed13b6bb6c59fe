package replica

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Put stores value under key and returns the entry's sequence number once
// it is committed to disk.
func (s *Store) Put(p, key string, value []byte) (uint64, error) {
	return s.write(p, Entry{Op: OpPut, Key: key, Value: value})
}

// Delete removes key (a no-op entry is still logged) and returns the
// committed sequence number.
func (s *Store) Delete(p, key string) (uint64, error) {
	return s.write(p, Entry{Op: OpDelete, Key: key})
}

// ErrTooLarge is returned for a document above MaxValue.
var ErrTooLarge = errors.New("replica: document too large")

// MaxValue is the largest document a Put accepts (a pull batch or a
// snapshot page must fit one link frame).
const MaxValue = 8 << 20

func (s *Store) write(p string, x Entry) (uint64, error) {
	if x.Key == "" {
		return 0, fmt.Errorf("replica: empty key")
	}
	if len(x.Value) > MaxValue || len(x.Key) > 4096 {
		return 0, fmt.Errorf("%w: %q (limit %d bytes)", ErrTooLarge, x.Key, MaxValue)
	}
	var seq uint64
	err := s.batch(func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		x.Seq = u64(b.meta.Get(keyLast)) + 1
		x.Time = time.Now().UnixNano()
		if err := appendLog(b, x, s.opts.CacheBytes, s.snapshotHold(p)); err != nil {
			return err
		}
		seq = x.Seq
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("replica: write %s/%s: %w", p, x.Key, err)
	}
	x.Value = bytes.Clone(x.Value) // the caller may reuse its buffer
	if s.ov[p].add(streamLog, x) >= checkpointEntries {
		s.kick()
	}
	s.stats[p].queued.add(1)
	s.wake(p)
	return seq, nil
}

// appendLog adds x to the log and drops the oldest entries beyond limit
// bytes that are already in the data and at or below keep.
func appendLog(b buckets, x Entry, limit int64, keep uint64) error {
	enc := sealOwn(be(x.Seq), appendEntry(nil, x))
	b.log.FillPercent = 1 // keys only ever grow: pack the pages
	if err := b.log.Put(be(x.Seq), enc); err != nil {
		return err
	}
	done := min(u64(b.meta.Get(keyLogData)), keep)
	size := int64(u64(b.meta.Get(keyLogBytes))) + int64(len(enc))
	first := u64(b.meta.Get(keyFirst))
	if first == 0 {
		first = x.Seq
	}
	c := b.log.Cursor()
	for k, v := c.First(); k != nil && size > limit && u64(k) < x.Seq && u64(k) <= done; k, v = c.First() {
		size -= int64(len(v))
		if err := c.Delete(); err != nil {
			return err
		}
		first = u64(k) + 1
	}
	for _, kv := range [][2][]byte{{keyLast, be(x.Seq)}, {keyFirst, be(first)}, {keyLogBytes, be(uint64(size))}} {
		if err := b.meta.Put(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// applyData writes an entry to the data bucket; values are stored with the
// entry's sequence (their version) in front and their checksum after.
func applyData(data *bolt.Bucket, x Entry) error {
	k := []byte(x.Key)
	if x.Op == OpDelete {
		return data.Delete(k)
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(x.Value)+sumLen), x.Seq)
	return data.Put(k, sealOwn(k, append(v, x.Value...)))
}

// Get returns key's value and version.
func (s *Store) Get(p, key string) (Item, bool, error) {
	ov, ok := s.ov[p]
	if !ok {
		return Item{}, false, fmt.Errorf("%w %q", ErrUnknownProvider, p)
	}
	// the overlay first: a change leaves it only once the data has it
	if x, ok := ov.get(key); ok {
		if x.Op == OpDelete {
			return Item{}, false, nil
		}
		return Item{Key: key, Version: x.Seq, Value: bytes.Clone(x.Value)}, true, nil
	}
	// past the overlay: the data, which misses the changes a damaged
	// entry held when p is broken
	if err := s.brokenErr(p); err != nil {
		return Item{}, false, err
	}
	var it Item
	err := s.view("a read", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		it, ok, err = s.itemOf(p, b.meta, key, b.data.Get([]byte(key)))
		return err
	})
	if err != nil {
		return Item{}, false, err
	}
	return it, ok, nil
}

// List returns the documents whose keys start with prefix, in key order.
func (s *Store) List(p, prefix string) ([]Item, error) {
	ov, ok := s.ov[p]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownProvider, p)
	}
	if err := s.brokenErr(p); err != nil {
		return nil, err
	}
	copied := ov.prefixed(prefix)
	pending := map[string]Entry{}
	var out []Item
	err := s.view("a read", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		// a change copied from the overlay that a checkpoint applied
		// before this read began is older than (or equal to) what the
		// data holds now: the data decides for it
		applied := [2]uint64{u64(b.meta.Get(keyLogData)), u64(b.meta.Get(keyInboxData))}
		for _, e := range copied {
			if e.x.Seq > applied[e.src] {
				pending[e.x.Key] = e.x
			}
		}
		c := b.data.Cursor()
		pre := []byte(prefix)
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			if _, ok := pending[string(k)]; ok {
				continue
			}
			it, ok, err := s.itemOf(p, b.meta, string(k), v)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, it)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(pending) == 0 {
		return out, err
	}
	for _, x := range pending {
		if x.Op == OpPut {
			out = append(out, Item{Key: x.Key, Version: x.Seq, Value: bytes.Clone(x.Value)})
		}
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Lead makes this node the writer of provider p. A node that was following
// another log starts a fresh log (new id), so its own followers take a full
// snapshot instead of mixing two histories. Call it with no write of p in
// flight.
func (s *Store) Lead(p string) error {
	renumbered := false
	err := s.update("lead", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		if b.meta.Get(keySrc) == nil {
			return nil
		}
		// everything pulled or written so far goes into the data before
		// the log and inbox start again from zero
		if _, _, err := s.applyPending(tx, p, b); err != nil {
			return err
		}
		renumbered = true
		if err := tx.DeleteBucket(bucketName(p, "log")); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketName(p, "log")); err != nil {
			return err
		}
		for _, k := range [][]byte{keySrc, keyApplied, keyAppliedSum, keyFirst, keyLast, keyLogBytes} {
			if err := b.meta.Delete(k); err != nil {
				return err
			}
		}
		for _, k := range [][]byte{keyLogData, keyInboxData} {
			if err := b.meta.Put(k, be(0)); err != nil {
				return err
			}
		}
		return b.meta.Put(keyLogID, []byte(newLogID()))
	})
	if err == nil && renumbered {
		s.ov[p].reset([2]uint64{})
		s.statsFor(p).resetLeader()
	}
	if err == nil {
		s.led(p)
		s.ClearFollowError(p) // it follows no more: a failure of its follower is history
	}
	return err
}
