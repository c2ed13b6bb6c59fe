package schedsync

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"

	"github.com/cespare/xxhash/v2"
)

// In-place updates (see journal.go for the crash safety). The delta is
// read to the end and checked (its checksum, the body proof, the content
// hash) before the file is touched: its copies of blocks that stay at
// their offset cost nothing, everything else becomes a write. When the
// writes grow past inPlaceLimit (data moved, not changed) the update is
// given up before anything was written, and the file is rebuilt into a
// temporary file instead, as a small or new file always is.

// errInPlaceTooBig: the delta moves or replaces too much of the file.
var errInPlaceTooBig = errors.New("schedsync: delta too large to apply in place")

// inPlaceLimit is how many bytes an in-place update may write: an eighth
// of the file, at most 64 MiB (the writes are held in memory and in the
// journal).
func inPlaceLimit(size int64) int64 { return min(size/8, 64<<20) }

// inPlacePlan collects the writes that turn the basis into the result.
type inPlacePlan struct {
	writes []extent
	total  int64 // bytes in writes
	limit  int64
	out    int64 // result bytes so far
}

func (p *inPlacePlan) add(off int64, data []byte) error {
	if p.total += int64(len(data)); p.total > p.limit {
		return errInPlaceTooBig
	}
	if n := len(p.writes); n > 0 && p.writes[n-1].off+int64(len(p.writes[n-1].data)) == off {
		p.writes[n-1].data = append(p.writes[n-1].data, data...)
		return nil
	}
	p.writes = append(p.writes, extent{off: off, data: append([]byte(nil), data...)})
	return nil
}

// planInPlace reads a delta against basis (described by sig) and returns
// the writes that make the result out of basis, and the result's size
// (at most max). It reads every byte of the result, the unchanged ones
// from basis, to check the delta's checksum.
func planInPlace(r io.Reader, basis io.ReaderAt, sig *signature, max, limit int64) ([]extent, int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	h := xxhash.New()
	p := &inPlacePlan{limit: limit}
	buf := make([]byte, min(1<<20, sig.size+1)) // a small file needs no 1 MiB buffer
	for {
		op, err := br.ReadByte()
		if err != nil {
			return nil, 0, fmt.Errorf("%w: truncated", errBadDelta)
		}
		switch op {
		case 'C':
			err = p.copyRun(br, basis, sig, h, buf, max)
		case 'L':
			err = p.literal(br, h, max)
		case 'E':
			if err := endOp(br, h.Sum64()); err != nil {
				return nil, 0, err
			}
			return p.writes, p.out, nil
		default:
			err = fmt.Errorf("%w: unknown op %q", errBadDelta, op)
		}
		if err != nil {
			return nil, 0, err
		}
	}
}

// copyRun handles 'C first count': blocks that stay where they are need no
// write, blocks that move are written at their new offset.
func (p *inPlacePlan) copyRun(br *bufio.Reader, basis io.ReaderAt, sig *signature, h *xxhash.Digest, buf []byte, max int64) error {
	first, err1 := binary.ReadUvarint(br)
	cnt, err2 := binary.ReadUvarint(br)
	n := uint64(len(sig.weak))
	if err1 != nil || err2 != nil || first >= n || cnt == 0 || cnt > n-first {
		return fmt.Errorf("%w: bad copy", errBadDelta)
	}
	from := int64(first) * int64(sig.block)
	end := min(int64(first+cnt)*int64(sig.block), sig.size)
	if p.out+end-from > max {
		return fmt.Errorf("%w: result too large", errBadDelta)
	}
	moved := from != p.out
	for off := from; off < end; {
		k := int(min(int64(len(buf)), end-off))
		if _, err := basis.ReadAt(buf[:k], off); err != nil {
			return fmt.Errorf("schedsync: delta basis: %w", err)
		}
		_, _ = h.Write(buf[:k])
		if moved {
			if err := p.add(p.out, buf[:k]); err != nil {
				return err
			}
		}
		off += int64(k)
		p.out += int64(k)
	}
	return nil
}

func (p *inPlacePlan) literal(br *bufio.Reader, h *xxhash.Digest, max int64) error {
	l, err := binary.ReadUvarint(br)
	if err != nil || l == 0 || l > maxLiteral || int64(l) > max-p.out {
		return fmt.Errorf("%w: bad literal", errBadDelta)
	}
	b := make([]byte, l)
	if _, err := io.ReadFull(br, b); err != nil {
		return fmt.Errorf("%w: truncated literal", errBadDelta)
	}
	_, _ = h.Write(b)
	if err := p.add(p.out, b); err != nil {
		return err
	}
	p.out += int64(l)
	return nil
}

// overlay reads the result of writing writes over basis, cut at size.
type overlay struct {
	basis  io.ReaderAt
	writes []extent // sorted, not overlapping
	size   int64
}

func (o overlay) ReadAt(b []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	want := len(b)
	n := int(min(int64(want), o.size-off))
	b = b[:n]
	// the basis first (zeros past its end), then the writes over it
	clear(b)
	if m, err := o.basis.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return m, err
	}
	i := sort.Search(len(o.writes), func(i int) bool { return o.writes[i].off+int64(len(o.writes[i].data)) > off })
	for ; i < len(o.writes) && o.writes[i].off < off+int64(n); i++ {
		w := o.writes[i]
		lo, hi := max(w.off, off), min(w.off+int64(len(w.data)), off+int64(n))
		copy(b[lo-off:hi-off], w.data[lo-w.off:hi-w.off])
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// contentHashOf returns the content hash of size bytes of r.
func contentHashOf(r io.ReaderAt, size int64) ([32]byte, error) {
	var sum [32]byte
	h := newContentHash()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// updated returns the signature of the file after writes and a cut at
// size, reading only the blocks that changed (nil when the block size
// for the new size differs: the next delta reads the file).
func (s *signature) updated(writes []extent, size int64, r io.ReaderAt) (*signature, error) {
	if blockSizeFor(size) != s.block {
		return nil, nil
	}
	B := int64(s.block)
	ns := &signature{block: s.block, size: size}
	n := int((size + B - 1) / B)
	dirty := map[int]bool{}
	for _, w := range writes {
		for b := w.off / B; b*B < w.off+int64(len(w.data)); b++ {
			dirty[int(b)] = true
		}
	}
	if size != s.size && len(s.weak) > 0 {
		dirty[len(s.weak)-1], dirty[n-1] = true, true
	}
	buf := make([]byte, s.block)
	for i := range n {
		if i < len(s.weak) && !dirty[i] {
			ns.weak, ns.strong = append(ns.weak, s.weak[i]), append(ns.strong, s.strong[i])
			continue
		}
		l := ns.blockLen(i)
		if _, err := r.ReadAt(buf[:l], int64(i)*B); err != nil {
			return nil, err
		}
		a, b := weakSum(buf[:l])
		ns.weak, ns.strong = append(ns.weak, a|b<<16), append(ns.strong, xxhash.Sum64(buf[:l]))
	}
	return ns, nil
}

// deltaInPlace updates f in place from a delta when the local copy is the
// expected one (not edited here) and the delta changes little of it. It
// reports false, having written nothing, when the file cannot be updated
// in place (the caller then rebuilds it into a temporary file).
func (s *fetchState) deltaInPlace(ctx context.Context, f, loc Entry) (bool, error) {
	file, err := s.a.w.bn.openFile(f.Path, os.O_RDWR, 0) // no link followed, the parents' included
	if err != nil {
		return false, nil
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != loc.Size || fi.ModTime().UnixNano() != loc.MTime {
		return false, nil
	}
	dev, ino, ok := fileID(fi)
	if st, _ := fi.Sys().(*syscall.Stat_t); !ok || st.Nlink != 1 {
		return false, nil // a hard link elsewhere would change too
	}
	sig := s.a.sigs.get(f.Path, loc.Size, loc.MTime)
	if sig == nil {
		if sig, err = makeSignature(file, loc.Size); err != nil {
			return false, nil
		}
	}
	writes, err := s.readInPlaceDelta(ctx, f, file, sig)
	switch {
	case errors.Is(err, errInPlaceTooBig):
		return false, nil
	case errors.Is(err, errBadDelta):
		s.changed(f, "the delta did not match the local copy")
		return true, nil
	case errors.Is(err, errGone):
		s.changed(f, "the primary could not send it")
		return true, nil
	case errors.Is(err, errSigRefused):
		s.changed(f, whySigRefused)
		return true, nil
	case errors.Is(err, errNotManifest):
		s.mismatch(f)
		return true, nil
	case err != nil:
		return true, err
	}
	if changedSinceOpen(file, fi) {
		// edited here while the delta was read: writing now would mix
		// the edit into the new version under the new mtime, hidden; the
		// next attempt finds the edit and moves it aside
		s.changed(f, "changed here during the transfer")
		return true, nil
	}
	j := &journal{path: f.Path, dev: dev, ino: ino, oldSize: loc.Size, newSize: f.Size,
		mode: f.Mode, mtime: f.MTime, hash: f.Hash, writes: writes}
	if err := s.a.w.updateInPlace(file, j); err != nil {
		s.localFail(f, err)
		return true, nil
	}
	if ns, err := sig.updated(writes, f.Size, file); err == nil && ns != nil {
		s.a.sigs.put(f.Path, f.Size, f.MTime, ns)
	}
	s.doneInPlace(f)
	return true, nil
}

// changedSinceOpen reports whether file (described by fi when it was
// opened) was written or changed since: its ctime, which every write and
// metadata change moves and nobody can set back, or its size or mtime.
func changedSinceOpen(file *os.File, fi os.FileInfo) bool {
	now, err := file.Stat()
	if err != nil {
		return true
	}
	a, okA := fi.Sys().(*syscall.Stat_t)
	b, okB := now.Sys().(*syscall.Stat_t)
	return !okA || !okB || a.Ctim != b.Ctim || a.Size != b.Size || a.Mtim != b.Mtim
}

var (
	errGone        = errors.New("schedsync: gone on the primary")
	errSigRefused  = errors.New("schedsync: the primary refused the signature")
	errNotManifest = errors.New("schedsync: content does not match the primary's manifest")
)

// whySigRefused: the secondary sends a signature only for a copy within
// maxBasisRatio of the manifest's size, so a refusal means the primary's
// file changed size since; its change comes in a later batch.
const whySigRefused = "the primary refused the delta (its file changed size since the manifest)"

// readInPlaceDelta asks for the delta and checks the result it describes
// against the manifest's hash: the primary vouches for it in the trailer,
// or the result is hashed here.
func (s *fetchState) readInPlaceDelta(ctx context.Context, f Entry, basis *os.File, sig *signature) ([]extent, error) {
	ans, err := s.requestDelta(ctx, f.Path, sig)
	if err != nil {
		return nil, err
	}
	defer ans.Body.Close()
	cr := &countReader{r: ans.Body}
	writes, size, err := planInPlace(cr, basis, sig, f.Size, inPlaceLimit(f.Size))
	defer func() { s.a.n.metrics.bytes.WithLabelValues("delta").Add(float64(cr.n)) }()
	if errors.Is(err, errInPlaceTooBig) {
		return nil, err
	}
	if err == nil {
		err = ans.verify() // reach EOF: the trailer follows the body
	} else {
		err = ans.explain(err)
	}
	if err != nil {
		return nil, err
	}
	if size != f.Size {
		return nil, errNotManifest
	}
	if ans.Trailer.Get(hashHeader) != hex.EncodeToString(f.Hash[:]) {
		sum, err := contentHashOf(overlay{basis: basis, writes: writes, size: size}, size)
		if err != nil {
			return nil, fmt.Errorf("schedsync: delta basis: %w", err)
		}
		if sum != f.Hash {
			return nil, errNotManifest
		}
	}
	return writes, nil
}

// updateInPlace applies j to file through the journal.
func (w *writer) updateInPlace(file *os.File, j *journal) error {
	name, err := w.writeJournal(j)
	if err != nil {
		return err
	}
	if err := w.applyJournal(file, j); err != nil {
		return err // the journal stays: the next start completes the update
	}
	return w.dropJournal(name)
}

// doneInPlace records f as written (it needs no install).
func (s *fetchState) doneInPlace(f Entry) {
	s.mu.Lock()
	s.inPlace = append(s.inPlace, f)
	s.mu.Unlock()
	if p := s.a.n.prog.Load(); p != nil {
		p.filesDone.Add(1)
	}
}

// mayWriteInPlace: a local edit is moved aside, not written over, and a
// path the batch names twice must not get two updates racing in its file.
func (p *plan) mayWriteInPlace(path string) bool {
	if p.edited[path] {
		return false
	}
	if p.named == nil {
		p.named = map[string]int{}
		for _, f := range p.files {
			p.named[f.Path]++
		}
	}
	return p.named[path] == 1
}
