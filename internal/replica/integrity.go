package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/text"
)

// Integrity. bbolt keeps no checksum of its pages (only of its two meta
// pages), so a damaged page in the middle of the file (a bad sector, a
// partial restore, a stray write) goes unnoticed: its bytes come back as
// if true, and a damaged page header or branch makes bbolt panic or read
// outside the page. Every value this store writes (the data, the log, the
// inbox, and the caller's buckets named in Options.Sealed) therefore ends
// with a CRC-32C (Castagnoli) of its key and its bytes, checked on every
// read: a mismatch is a *DamagedError naming the file, the bucket and the
// key, counted in Stats, recorded as an event, and the value is neither
// served nor replicated. A follower whose own copy of a provider is
// damaged takes a full copy from its leader. Panics of bbolt at the few
// entry points of this package (and faults on the mapped file) are turned
// into errors of the same kind; see guard for what that does not catch.
//
// The file's format version is in the bucket "format": 1 (no key, written
// before the checksums) or 2. Open rewrites a version 1 file to version 2
// in one transaction.

const (
	formatVersion = 2
	sumLen        = 4
)

var (
	bucketFormat = []byte("format")
	keyVersion   = []byte("version")
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// ErrDamaged matches (errors.Is) every *DamagedError.
var ErrDamaged = errors.New("replica: damaged data")

// DamagedError is a stored value whose checksum does not match, or a
// bbolt panic on a damaged page structure.
type DamagedError struct {
	File   string
	Bucket string // "" when bbolt panicked (the page is not known)
	Key    []byte
	Why    string
}

func (e *DamagedError) Error() string {
	if e.Bucket == "" {
		return fmt.Sprintf("replica: damaged file %s: %s (refused; restore it, or move it aside to start empty)", e.File, e.Why)
	}
	if e.Key == nil {
		return fmt.Sprintf("replica: damaged bucket %q in %s: %s", e.Bucket, e.File, e.Why)
	}
	return fmt.Sprintf("replica: damaged value in %s, bucket %q, key %s: %s (refused, not served nor replicated)",
		e.File, e.Bucket, keyText(e.Key), e.Why)
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// keyText shows a key: as text when it is printable, else in hex (the
// log and the inbox are keyed by 8-byte sequence numbers).
func keyText(k []byte) string {
	if len(k) == 8 && text.Clean(string(k)) != string(k) {
		return fmt.Sprintf("seq %d (%x)", binary.BigEndian.Uint64(k), k)
	}
	if s := string(k); text.Clean(s) == s && len(s) <= 200 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%x", k[:min(len(k), 64)])
}

func sum(key, v []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, v)
}

// Seal returns v followed by its checksum (a CRC-32C of key and v), the
// stored form of a value in a sealed bucket. It does not change v.
func Seal(key, v []byte) []byte {
	out := make([]byte, 0, len(v)+sumLen)
	out = append(out, v...)
	return binary.BigEndian.AppendUint32(out, sum(key, v))
}

// sealOwn is Seal for a value the caller owns and gives up: the checksum
// is appended to it (no copy).
func sealOwn(key, v []byte) []byte {
	return binary.BigEndian.AppendUint32(v, sum(key, v))
}

// unseal checks the checksum of a stored value and returns the value
// without it (a slice of sv) or why it is damaged.
func unseal(key, sv []byte) ([]byte, string) {
	if len(sv) < sumLen {
		return nil, fmt.Sprintf("%d bytes, too short to hold a checksum", len(sv))
	}
	v := sv[:len(sv)-sumLen]
	if got, want := binary.BigEndian.Uint32(sv[len(v):]), sum(key, v); got != want {
		return nil, fmt.Sprintf("checksum mismatch (stored %08x, computed %08x)", got, want)
	}
	return v, ""
}

// Verify checks a sealed value without counting or recording a damaged
// one (a status page that looks at a value on every refresh): it returns
// the value without its checksum, or false.
func Verify(key, sv []byte) ([]byte, bool) {
	v, why := unseal(key, sv)
	return v, why == ""
}

// Unseal checks a value read from a bucket named in Options.Sealed and
// returns it without its checksum (pointing into sv), or a *DamagedError
// that is counted and recorded like the store's own.
func (s *Store) Unseal(bucket string, key, sv []byte) ([]byte, error) {
	v, why := unseal(key, sv)
	if why != "" {
		return nil, s.damaged("", bucket, key, why)
	}
	return v, nil
}

// open is Unseal for the store's own buckets; p is their provider.
func (s *Store) open(p, part string, key, sv []byte) ([]byte, error) {
	v, why := unseal(key, sv)
	if why != "" {
		return nil, s.damaged(p, string(bucketName(p, part)), key, why)
	}
	return v, nil
}

// damaged counts and records a damaged value (or a bbolt panic) and
// returns its error. A provider this node follows (its copy came from a
// leader: s.follower) is copied again in full from its leader on the next
// round of Follow. It takes no lock that a transaction of this package
// holds: it runs inside them.
func (s *Store) damaged(p, bucket string, key []byte, why string) error {
	err := &DamagedError{File: s.path, Bucket: bucket, Key: key, Why: why}
	if p == "" {
		p = providerOf(bucket)
	}
	s.mu.Lock()
	s.damage.count++
	s.damage.last = err.Error()
	first := !s.damage.seen[err.Error()]
	if first && len(s.damage.seen) < 1000 {
		s.damage.seen[err.Error()] = true
	}
	st, follows := s.stats[p], s.follower[p]
	s.mu.Unlock()
	if first {
		s.log.Error("replica: damaged data refused", "file", s.path, "bucket", bucket, "key", keyText(key), "why", why)
		s.record(p, "damaged", err.Error())
	}
	if st != nil {
		st.mu.Lock()
		st.damaged++
		st.lastDamage = err.Error()
		st.mu.Unlock()
		if follows {
			st.force("this node's copy is damaged: "+err.Error(), false)
		}
	}
	return err
}

// providerOf names the provider of one of the store's buckets ("" for the
// caller's).
func providerOf(bucket string) string {
	rest, ok := strings.CutPrefix(bucket, "p/")
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(rest, "/")
	return p
}

// damageStats is what the store counted of damaged data.
type damageStats struct {
	count int
	last  string
	seen  map[string]bool // errors already recorded as an event
}

// Damage returns how many damaged values (or bbolt panics) the store has
// refused since it was opened, and the last one's error ("" when none).
func (s *Store) Damage() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.damage.count, s.damage.last
}

// guard turns a panic of bbolt inside fn (a damaged page structure:
// "invalid page type", an index out of range, a read outside the mapped
// file, which SetPanicOnFault makes a panic instead of a crash) into a
// *DamagedError. It catches what runs on the calling goroutine only: the
// store's writes commit on its own writer goroutine under guard (batch.go)
// rather than through db.Batch, whose commit runs on bbolt's goroutine. A
// fault the runtime cannot turn into a panic (a damaged meta page that
// bolt.Open follows: see checkFile) is not caught. A value damaged in place
// without breaking the page is caught by its checksum, not here; a damaged
// key makes its document look absent, which neither sees.
func (s *Store) guard(what string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = s.damaged("", "", nil, fmt.Sprintf("bbolt panicked during %s (a damaged page?): %v", what, r))
		}
	}()
	return fn()
}

// view and update are db.View and db.Update under guard.
func (s *Store) view(what string, fn func(*bolt.Tx) error) error {
	return s.guard(what, func() error { return s.db.View(fn) })
}

func (s *Store) update(what string, fn func(*bolt.Tx) error) error {
	return s.guard(what, func() error { return s.db.Update(fn) })
}

// View and Update run fn in a read or write transaction of the store's
// database, turning a panic of bbolt on a damaged page into a
// *DamagedError (see guard). Callers with buckets of their own use them
// instead of DB().View and DB().Update.
func (s *Store) View(fn func(*bolt.Tx) error) error { return s.view("a read", fn) }

// Update: see View.
func (s *Store) Update(fn func(*bolt.Tx) error) error { return s.update("a write", fn) }
