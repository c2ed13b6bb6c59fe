package schedsync

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"
)

// A large file whose delta leaves most blocks where they are is changed in
// place: only the changed bytes are written. A crash half-way through
// must not leave a mix of old and new content, so the writes go through a
// redo journal in .redund/journal (where redund alone writes):
//
//  1. the journal (the path, the file's identity, its new size, mode,
//     mtime and content hash, and every write with its bytes) is written and
//     fsynced, and so is its directory;
//  2. the writes are applied, the file is cut to its new size and
//     fsynced, then given its mode and mtime and fsynced again;
//  3. the journal is removed (and its directory fsynced, so a stale
//     journal never comes back after a crash).
//
// At start every complete journal is replayed (writing the same bytes at
// the same offsets again is harmless) and an incomplete one (no valid
// checksum at its end: the crash came before step 1 ended, so the file
// was not touched) is discarded.
//
//	journal: "RJN1" | uvarint len path | dev ino uvarints | uvarint old size | uvarint new size |
//	         uvarint mode | varint mtime | 32-byte content hash | uvarint n | n × (uvarint off | uvarint len | bytes) |
//	         uint64 xxhash of everything before
const (
	journalMagic  = "RJN1"
	journalDir    = stateDirName + "/journal"
	maxJournalOps = 1 << 20
)

// extent is one write of an in-place update.
type extent struct {
	off  int64
	data []byte
}

// journal is the redo record of one in-place update.
type journal struct {
	path             string
	dev, ino         uint64
	oldSize, newSize int64
	mode             uint32
	mtime            int64
	hash             [32]byte // content hash of the result
	writes           []extent
}

func (j *journal) encode() []byte {
	n := 64 + len(j.path)
	for _, w := range j.writes {
		n += 20 + len(w.data)
	}
	b := make([]byte, 0, n)
	b = append(b, journalMagic...)
	b = binary.AppendUvarint(b, uint64(len(j.path)))
	b = append(b, j.path...)
	for _, v := range []uint64{j.dev, j.ino, uint64(j.oldSize), uint64(j.newSize), uint64(j.mode)} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendVarint(b, j.mtime)
	b = append(b, j.hash[:]...)
	b = binary.AppendUvarint(b, uint64(len(j.writes)))
	for _, w := range j.writes {
		b = binary.AppendUvarint(b, uint64(w.off))
		b = binary.AppendUvarint(b, uint64(len(w.data)))
		b = append(b, w.data...)
	}
	return binary.BigEndian.AppendUint64(b, xxhash.Sum64(b))
}

var errBadJournal = errors.New("schedsync: incomplete or damaged journal")

// decodeJournal parses a journal; any flaw (a torn write at a crash
// included) makes it an error, and the journal is then ignored.
func decodeJournal(b []byte) (*journal, error) {
	if len(b) < len(journalMagic)+8 || string(b[:len(journalMagic)]) != journalMagic {
		return nil, errBadJournal
	}
	body := b[:len(b)-8]
	if binary.BigEndian.Uint64(b[len(b)-8:]) != xxhash.Sum64(body) {
		return nil, errBadJournal
	}
	r := bytes.NewReader(body[len(journalMagic):])
	var v [6]uint64
	p, err := readBytes(r, 4096)
	if err != nil {
		return nil, errBadJournal
	}
	for i := range 5 {
		if v[i], err = binary.ReadUvarint(r); err != nil {
			return nil, errBadJournal
		}
	}
	j := &journal{path: string(p), dev: v[0], ino: v[1], oldSize: int64(v[2]), newSize: int64(v[3]), mode: uint32(v[4])}
	if v[2] > math.MaxInt64/2 || v[3] > math.MaxInt64/2 || v[4] > 0o7777 || checkRelPath(j.path) != nil {
		return nil, errBadJournal
	}
	if j.mtime, err = binary.ReadVarint(r); err != nil {
		return nil, errBadJournal
	}
	if _, err := io.ReadFull(r, j.hash[:]); err != nil {
		return nil, errBadJournal
	}
	if v[5], err = binary.ReadUvarint(r); err != nil || v[5] > maxJournalOps {
		return nil, errBadJournal
	}
	for range v[5] {
		off, err := binary.ReadUvarint(r)
		if err != nil || off > uint64(j.newSize) {
			return nil, errBadJournal
		}
		data, err := readBytes(r, uint64(j.newSize)-off)
		if err != nil || len(data) == 0 {
			return nil, errBadJournal
		}
		j.writes = append(j.writes, extent{off: int64(off), data: data})
	}
	if r.Len() != 0 {
		return nil, errBadJournal
	}
	return j, nil
}

// readBytes reads a uvarint length (at most max) and that many bytes.
func readBytes(r *bytes.Reader, max uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > max || n > uint64(r.Len()) {
		return nil, errBadJournal
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// fileID returns a file's device and inode numbers.
func fileID(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), st.Ino, true
}

// writeJournal makes j durable under a fresh name in .redund/journal and
// returns that name.
func (w *writer) writeJournal(j *journal) (string, error) {
	if err := w.root.MkdirAll(journalDir, 0o700); err != nil {
		return "", err
	}
	// named in the order they are written: should a journal outlive its
	// update (its removal failed), it is replayed before the later ones
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := path.Join(journalDir, fmt.Sprintf("%016x-%s", time.Now().UnixNano(), hex.EncodeToString(r[:])))
	f, err := w.root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(j.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.syncDir(journalDir)
	}
	if err != nil {
		_ = w.root.Remove(name)
		return "", err
	}
	return name, nil
}

// dropJournal removes a journal whose update is complete, durably: a
// journal that came back after a crash would be replayed over whatever
// the file holds by then.
func (w *writer) dropJournal(name string) error {
	if err := w.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return w.syncDir(journalDir)
}

// applyJournal applies j to f (opened read-write; the caller checked it
// is the file j was written for) and makes the result durable: the data
// first, then the mode and mtime (so a file showing the new mtime holds
// the new content durably, as one installed by rename does).
func (w *writer) applyJournal(f *os.File, j *journal) error {
	for _, e := range j.writes {
		if _, err := f.WriteAt(e.data, e.off); err != nil {
			return err
		}
	}
	if j.newSize != j.oldSize {
		if err := f.Truncate(j.newSize); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Chmod(goMode(j.mode)); err != nil {
		return err
	}
	if err := futimens(f, j.mtime); err != nil { // the open file: no path looked up again
		return err
	}
	return f.Sync()
}

// replayJournals finishes the in-place updates a crash interrupted, in
// the order they were written. It
// returns the entries of the files it completed with the content their
// journal promised (the caller records them as written); a journal whose
// file is gone or was replaced since is dropped, and so is one whose
// result does not have the promised hash (the file then differs from the
// expected tree and is handled as any local change: moved aside and
// fetched again).
func (w *writer) replayJournals() (done []Entry, errs []error) {
	ents, err := fs.ReadDir(w.root.FS(), journalDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		return nil, errs
	}
	for _, d := range ents {
		name := path.Join(journalDir, d.Name())
		var written time.Time // when the journal was written (its mtime: nothing touches it after)
		if fi, err := d.Info(); err == nil {
			written = fi.ModTime()
		}
		e, ok, err := w.replayOne(name, written)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue // kept: tried again at the next start
		}
		if ok {
			done = append(done, e)
		}
		if err := w.dropJournal(name); err != nil {
			errs = append(errs, err)
		}
	}
	return done, errs
}

// replayWindow: an update writes its file right after its journal is
// durable (the writes are held in memory, at most 64 MiB) and sets its mode
// and mtime after one fsync; a file whose status changed later than this
// after the journal was written was changed by someone else since.
const replayWindow = time.Minute

// replayOne replays one journal written at written; ok reports a file now
// holding the journal's result. A file changed since the crash (its ctime,
// which no one can set back, is later than written plus replayWindow: an
// operator restored or edited it while redund was down, in the same inode)
// is left alone: writing the journal over it would destroy that edit and
// leave a mix. It is then a local edit like any other (moved aside, not
// lost, before the primary's version replaces it).
func (w *writer) replayOne(name string, written time.Time) (Entry, bool, error) {
	b, err := w.root.ReadFile(name)
	if err != nil {
		return Entry{}, false, err
	}
	j, err := decodeJournal(b)
	if err != nil {
		return Entry{}, false, nil // never complete: the file was not touched
	}
	f, err := w.bn.openFile(j.path, os.O_RDWR, 0) // no link followed, the parents' included
	if err != nil {
		return Entry{}, false, nil // gone: nothing to finish
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, false, err
	}
	if dev, ino, ok := fileID(fi); !ok || !fi.Mode().IsRegular() || dev != j.dev || ino != j.ino {
		return Entry{}, false, nil // replaced since: not the file the journal is for
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || written.IsZero() || time.Unix(0, st.Ctim.Nano()).After(written.Add(replayWindow)) {
		return Entry{}, false, nil // changed since the update was interrupted
	}
	if err := w.applyJournal(f, j); err != nil {
		return Entry{}, false, err
	}
	h := newContentHash()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, j.newSize)); err != nil {
		return Entry{}, false, err
	}
	if !bytes.Equal(h.Sum(nil), j.hash[:]) {
		return Entry{}, false, nil
	}
	return Entry{Path: j.path, Kind: KindFile, Size: j.newSize, Mode: j.mode, MTime: j.mtime, Hash: j.hash}, true, nil
}

// replayJournals finishes, before anything else reads the directory, the
// in-place updates a crash interrupted, and records the files completed
// as written (so they are not taken for local edits).
func (n *Node) replayJournals() {
	done, errs := n.w.replayJournals()
	for _, err := range errs {
		n.log.Error("cannot finish an in-place update; the file is compared with the primary's", "err", err)
	}
	if len(errs) > 0 {
		n.mu.Lock()
		n.journalErr = fmt.Sprintf("%d in-place updates left by a crash could not be finished (first: %v); "+
			"their files are compared with the primary's", len(errs), errs[0])
		n.mu.Unlock()
	}
	if len(done) > 0 {
		n.log.Info("finished in-place updates interrupted by a crash", "files", len(done))
		n.app.record(done)
	}
}
