package replica

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// sealedPart says whether a part of a provider (the name after p/<p>/)
// holds sealed values: the log, the inbox and the data buckets. The meta
// bucket (positions and log ids, a few small values) is not sealed.
func sealedPart(part string) bool {
	return part == "log" || part == "inbox" || strings.HasPrefix(part, "data")
}

// isSealed says whether the top-level bucket name holds sealed values.
func (s *Store) isSealed(name []byte) bool {
	if rest, ok := strings.CutPrefix(string(name), "p/"); ok {
		_, part, _ := strings.Cut(rest, "/")
		return sealedPart(part)
	}
	return slices.Contains(s.opts.Sealed, string(name))
}

// migrate brings a file of an older format (no format bucket: version 1,
// values without checksums) to formatVersion: every value of a sealed
// bucket is rewritten with its checksum, in the caller's transaction. A
// file of a newer format is refused.
func (s *Store) migrate(tx *bolt.Tx) error {
	fb := tx.Bucket(bucketFormat)
	if fb != nil {
		v := fb.Get(keyVersion)
		if len(v) != 8 {
			return fmt.Errorf("format version of %d bytes", len(v))
		}
		if n := binary.BigEndian.Uint64(v); n != formatVersion {
			return fmt.Errorf("the file is of format %d, this version of redund reads format %d (up to date with a newer redund?)", n, formatVersion)
		}
		return nil
	}
	var names [][]byte
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if s.isSealed(name) {
			names = append(names, bytes.Clone(name))
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := 0
	for _, name := range names {
		k, err := sealBucket(tx.Bucket(name))
		if err != nil {
			return fmt.Errorf("migrating bucket %q to format %d: %w", name, formatVersion, err)
		}
		n += k
		// the retained log's size counts the checksums from now on
		if rest, ok := strings.CutSuffix(string(name), "/log"); ok {
			if meta := tx.Bucket([]byte(rest + "/meta")); meta != nil && k > 0 {
				if err := meta.Put(keyLogBytes, be(u64(meta.Get(keyLogBytes))+sumLen*uint64(k))); err != nil {
					return err
				}
			}
		}
	}
	if fb, err = tx.CreateBucket(bucketFormat); err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("replica: file migrated: every value now carries a checksum", "file", s.path, "format", formatVersion, "values", n)
	}
	return fb.Put(keyVersion, binary.BigEndian.AppendUint64(nil, formatVersion))
}

// sealBucket rewrites every value of b (not its nested buckets) with its
// checksum and returns how many it rewrote.
func sealBucket(b *bolt.Bucket) (int, error) {
	var keys, vals [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil { // a nested bucket
			continue
		}
		keys, vals = append(keys, bytes.Clone(k)), append(vals, Seal(k, v))
	}
	for i, k := range keys {
		if err := b.Put(k, vals[i]); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// verifyAll checks the checksum of every sealed value in the file and
// returns the first damage found (each one is counted and recorded).
func (s *Store) verifyAll() error {
	var first error
	found := map[string]uint64{} // keys per bucket
	err := s.view("the check at open", func(tx *bolt.Tx) error {
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if !s.isSealed(name) {
				return nil
			}
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				found[string(name)]++
				if v == nil {
					continue
				}
				if _, why := unseal(k, v); why != "" {
					err := s.damaged("", string(name), bytes.Clone(k), why)
					if first == nil {
						first = err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.checkDocCounts(tx, found); err != nil && first == nil {
			first = err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return first
}

// keyDocCount (meta) is how many documents the live data bucket holds,
// kept with every change applied to it: the check at open compares it
// with the keys it finds, which shows a damaged key or branch page that
// hides documents (or shows others) while every value's checksum holds.
var keyDocCount = []byte("doc_count")

// initDocCount counts the documents of p's data for a file that has no
// count yet (one of format 1, migrated in the same transaction).
func initDocCount(tx *bolt.Tx, p string) error {
	meta := tx.Bucket(bucketName(p, "meta"))
	if meta.Get(keyDocCount) != nil {
		return nil
	}
	n := uint64(0)
	c := tx.Bucket(dataName(p, meta)).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return meta.Put(keyDocCount, be(n))
}

// checkDocCounts compares, for each provider, the keys found in its live
// data bucket (found, by bucket name) with its count.
func (s *Store) checkDocCounts(tx *bolt.Tx, found map[string]uint64) error {
	var first error
	for _, p := range s.opts.Providers {
		meta := tx.Bucket(bucketName(p, "meta"))
		name := string(dataName(p, meta))
		if want := u64(meta.Get(keyDocCount)); found[name] != want {
			err := s.damaged(p, name, nil, fmt.Sprintf("it holds %d documents where %d were written: "+
				"a damaged key or page hides documents (or shows others)", found[name], want))
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// breakProvider refuses the reads of p until a full copy replaces its
// data: err stopped its pending changes from reaching the data, which
// would be served out of date without them.
func (s *Store) breakProvider(p string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.broken[p]; !ok {
		s.broken[p] = err
	}
}

// brokenErr is the error that refuses reads of p (nil when none).
func (s *Store) brokenErr(p string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.broken[p]; err != nil {
		return fmt.Errorf("replica: %s: refused until its damaged store is replaced by a full copy or restored: %w", p, err)
	}
	return nil
}

// mended records that p's data was replaced by a full copy from its
// leader, which p now follows.
func (s *Store) mended(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.broken, p)
	s.follower[p] = true
}

// led records that p follows no leader any more.
func (s *Store) led(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.follower[p] = false
}
