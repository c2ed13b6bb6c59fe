package schedsync

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"os"
	pathpkg "path"
	"sync"
)

// Whole files are fetched in groups: one request per group, several
// groups in flight (workers), so a tree of small files costs a handful of
// round trips, not one per file.
const (
	groupFiles = 256
	groupBytes = 8 << 20
)

// fetchState collects the temporary files of one batch, and the files
// that could not be fetched (failed) with the ones among them whose
// content did not match the manifest (mismatched: the primary is asked to
// hash them again). It owns every temporary file it creates, from creation
// on (owned): one cleanup, deferred by whoever holds the state, removes
// whatever was not installed, whatever failed on the way.
type fetchState struct {
	a          *applier
	durable    bool
	ready      map[string]bool // directories made for this batch (read only while fetching)
	mu         sync.Mutex
	temps      map[string]*tempFile // finished, ready to install
	owned      map[string]*tempFile // by temporary name: created, not yet installed or removed
	failed     map[string]failure
	mismatched []string
	inPlace    []Entry // files updated in place (inplace.go): written, durable, nothing to install
}

// create makes a temporary file for path, owned by s until installed.
func (s *fetchState) create(path string) (*tempFile, error) {
	t, err := s.a.w.create(path, s.ready[pathpkg.Dir(path)])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.owned[t.rel] = t
	s.mu.Unlock()
	return t, nil
}

// installed gives up ownership of t: it now has its final name.
func (s *fetchState) installed(t *tempFile) {
	s.mu.Lock()
	delete(s.owned, t.rel)
	s.mu.Unlock()
}

// cleanup removes every temporary file not installed. It runs once the
// attempt is over (no job is running).
func (s *fetchState) cleanup() {
	s.mu.Lock()
	owned := s.owned
	s.owned, s.temps = map[string]*tempFile{}, map[string]*tempFile{}
	s.mu.Unlock()
	for _, t := range owned {
		s.a.w.discard(t)
	}
}

func (s *fetchState) done(path string, t *tempFile) {
	s.mu.Lock()
	s.temps[path] = t // a duplicate path's older file stays owned: cleanup removes it
	s.mu.Unlock()
	if p := s.a.n.prog.Load(); p != nil {
		p.filesDone.Add(1)
	}
}

// changed records a file the primary did not send as the manifest said.
func (s *fetchState) changed(f Entry, why string) {
	s.mu.Lock()
	s.failed[f.Path] = failure{why: why}
	s.mu.Unlock()
}

// mismatch records a file whose content is not the manifest's.
func (s *fetchState) mismatch(f Entry) {
	s.mu.Lock()
	s.failed[f.Path] = failure{why: "content does not match the primary's manifest"}
	s.mismatched = append(s.mismatched, f.Path)
	s.mu.Unlock()
}

// forget drops what was recorded about path.
func (s *fetchState) forget(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failed, path)
	for i, p := range s.mismatched {
		if p == path {
			s.mismatched = append(s.mismatched[:i], s.mismatched[i+1:]...)
			break
		}
	}
}

// localFail records a file this node could not write.
func (s *fetchState) localFail(f Entry, err error) {
	s.mu.Lock()
	s.failed[f.Path] = failure{why: localWhy(err), local: true}
	s.mu.Unlock()
}

// fetchAll gets the content of every file of the plan into finished
// temporary files: copied from a local file with the same content
// (renames), rebuilt from a delta (large files), or fetched whole. On
// success the caller must defer the state's cleanup.
func (a *applier) fetchAll(ctx context.Context, p *plan, durable bool, ready map[string]bool) (*fetchState, error) {
	s := &fetchState{a: a, durable: durable, ready: ready, temps: map[string]*tempFile{},
		owned: map[string]*tempFile{}, failed: map[string]failure{}}
	byHash := map[[32]byte][]string{}
	for path, e := range p.expected {
		if e.Kind == KindFile && e.Size > 0 {
			byHash[e.Hash] = append(byHash[e.Hash], path)
		}
	}
	var jobs []func(context.Context) error
	var group []Entry
	var groupSize int64
	flush := func() {
		if len(group) > 0 {
			g := group
			jobs = append(jobs, func(ctx context.Context) error { return s.fetchGroup(ctx, g) })
			group, groupSize = nil, 0
		}
	}
	for _, f := range p.files {
		if s.copyLocal(f, byHash[f.Hash]) {
			continue
		}
		// A delta pays when the old copy is large and not much smaller than
		// the new one; against a small stub, the whole file is cheaper.
		// Nor against a copy over 4 times larger: the primary refuses its
		// signature (maxBasisFor).
		if loc, ok := p.actual[f.Path]; ok && loc.Kind == KindFile && min(loc.Size, f.Size) >= a.n.deltaMin() &&
			loc.Size >= f.Size/4 && uint64(loc.Size) <= maxBasisFor(f.Size) {
			inPlace := a.n.inPlace() && p.mayWriteInPlace(f.Path)
			jobs = append(jobs, func(ctx context.Context) error { return s.fetchDelta(ctx, f, loc, inPlace) })
			continue
		}
		group = append(group, f)
		if groupSize += f.Size; len(group) >= groupFiles || groupSize >= groupBytes {
			flush()
		}
	}
	flush()
	if err := runJobs(ctx, a.n.workers(), jobs); err != nil {
		s.cleanup()
		// files updated in place are written and durable whatever the
		// rest of the batch does: unrecorded, they were taken for local
		// edits (and moved aside as conflicts at their next change)
		if len(s.inPlace) > 0 {
			a.record(s.inPlace)
		}
		return nil, err
	}
	return s, nil
}

// runJobs runs jobs on n workers; the first error cancels the rest.
func runJobs(ctx context.Context, n int, jobs []func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan func(context.Context) error)
	var wg sync.WaitGroup
	for range min(n, len(jobs)) {
		wg.Go(func() {
			for j := range ch {
				if ctx.Err() == nil {
					if err := j(ctx); err != nil {
						cancel(err)
					}
				}
			}
		})
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// write copies r into a new temporary file for f and checks the content.
func (s *fetchState) write(f Entry, r io.Reader) error {
	return s.writeChecked(f, r, nil)
}

// writeChecked is write with another way to check the content: vouched
// (called after r is drained) replaces hashing when it returns true.
func (s *fetchState) writeChecked(f Entry, r io.Reader, vouched func() bool) error {
	t, err := s.create(f.Path)
	if err != nil {
		s.localFail(f, err) // the caller skips what it does not read
		return nil
	}
	h := &lazyHash{on: vouched == nil}
	tw := &errWriter{w: t, p: s.a.n.prog.Load()}
	dst := io.MultiWriter(tw, h)
	var sb *asyncSig
	if f.Size >= s.a.n.deltaMin() {
		sb = newAsyncSig(f.Size)
		dst = io.MultiWriter(tw, h, sb)
	}
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(dst, r, *buf)
	copyBufs.Put(buf)
	var sig *signature
	if sb != nil {
		sig = sb.result()
	}
	if err != nil {
		s.a.w.discard(t)
		if tw.err != nil { // this node could not write (a full disk): that file only
			s.localFail(f, tw.err)
			return nil
		}
		return err
	}
	ok := vouched != nil && vouched()
	if !ok && !h.on { // not vouched for after all: hash what was written
		h.on = true
		_, _ = io.Copy(h, io.NewSectionReader(t.File, 0, n))
	}
	if n != f.Size || (!ok && !bytes.Equal(h.Sum(), f.Hash[:])) {
		s.a.w.discard(t)
		s.mismatch(f)
		return nil
	}
	if err := s.a.w.finish(t, f, s.durable); err != nil {
		s.localFail(f, err)
		return nil
	}
	if sig != nil {
		s.a.sigs.put(f.Path, f.Size, f.MTime, sig)
	}
	s.done(f.Path, t)
	return nil
}

// copyLocal makes f from a local file with the same hash (a rename or a
// copy on the primary costs no transfer).
func (s *fetchState) copyLocal(f Entry, candidates []string) bool {
	for _, c := range candidates {
		src, err := s.a.w.bn.openFile(c, os.O_RDONLY, 0)
		if err != nil {
			continue
		}
		before := len(s.temps)
		err = s.write(f, src)
		src.Close()
		if err == nil && len(s.temps) > before {
			s.a.n.metrics.bytes.WithLabelValues("local").Add(float64(f.Size))
			return true
		}
		s.forget(f.Path) // a local copy that did not work is no failure: fetch it
	}
	if f.Size == 0 {
		return s.write(f, bytes.NewReader(nil)) == nil
	}
	return false
}

func (s *fetchState) fetchGroup(ctx context.Context, g []Entry) error {
	paths := make([]string, len(g))
	for i, f := range g {
		paths[i] = f.Path
	}
	i := 0
	return s.a.n.client.files(ctx, paths, func(rec fileRecord, r *contentReader) error {
		f := g[i]
		i++
		if !rec.OK {
			s.changed(f, "the primary could not send it") // gone since the manifest: its deletion follows
			return nil
		}
		s.a.n.metrics.bytes.WithLabelValues("whole").Add(float64(rec.Size))
		if rec.Size != f.Size { // changed since the manifest: not written, the rest is skipped
			s.mismatch(f)
			return nil
		}
		// r hashes what it gives: that hash is the content check
		return s.writeChecked(f, r, func() bool { return r.is(f) })
	})
}

// fetchDelta updates f in place when it may and the delta allows it
// (inplace.go), else rebuilds f from the local copy loc and a delta.
func (s *fetchState) fetchDelta(ctx context.Context, f, loc Entry, inPlace bool) error {
	if inPlace {
		if done, err := s.deltaInPlace(ctx, f, loc); done || err != nil {
			return err
		}
	}
	basis, err := s.a.w.bn.openFile(f.Path, os.O_RDONLY, 0)
	if err != nil {
		return s.fetchGroup(ctx, []Entry{f})
	}
	defer basis.Close()
	sig := s.a.sigs.get(f.Path, loc.Size, loc.MTime)
	if sig == nil {
		if sig, err = makeSignature(basis, loc.Size); err != nil {
			return s.fetchGroup(ctx, []Entry{f})
		}
	}
	ans, err := s.requestDelta(ctx, f.Path, sig)
	if errors.Is(err, errGone) {
		s.changed(f, "the primary could not send it")
		return nil
	}
	if errors.Is(err, errSigRefused) {
		s.changed(f, whySigRefused)
		return nil
	}
	if err != nil {
		return err
	}
	defer ans.Body.Close()
	cr := &countReader{r: ans.Body}
	pr, pw := io.Pipe()
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		err := applyDelta(cr, basis, sig, pw, f.Size)
		if err == nil {
			// reach EOF (the trailers follow the body) and check the body
			// proof: the temporary file is finished only if it matched
			err = ans.verify()
		} else {
			err = ans.explain(err) // a changed delta explains the error
		}
		pw.CloseWithError(err)
	}()
	// the trailer is the hash of what the primary read; with the delta's
	// checksum (checked by applyDelta) it stands for hashing the result
	want := hex.EncodeToString(f.Hash[:])
	err = s.writeChecked(f, pr, func() bool { return ans.Trailer.Get(hashHeader) == want })
	// when writeChecked gave up early the goroutine may still be reading:
	// stop it (both ends) and wait before cr.n is read
	pr.Close()
	ans.Body.Close()
	<-applied
	s.a.n.metrics.bytes.WithLabelValues("delta").Add(float64(cr.n))
	if errors.Is(err, errBadDelta) {
		s.changed(f, "the delta did not match the local copy")
		return nil
	}
	return err
}

// requestDelta sends the signature of the secondary's copy of path (its
// bytes counted as delta traffic) and returns the primary's answer; errGone
// when the primary no longer has the file.
func (s *fetchState) requestDelta(ctx context.Context, path string, sig *signature) (answer, error) {
	var sb bytes.Buffer
	_ = sig.encode(&sb)
	s.a.n.metrics.bytes.WithLabelValues("delta").Add(float64(sb.Len()))
	ans, err := s.a.n.client.delta(ctx, path, sb.Bytes())
	var se *statusError
	if errors.As(err, &se) && se.code == 404 {
		return answer{}, errGone
	}
	if errors.As(err, &se) && se.code == http.StatusRequestEntityTooLarge {
		return answer{}, errSigRefused
	}
	return ans, err
}

// copyBufs are the buffers whole files are copied through: large writes
// (fewer system calls than io.Copy's 32 KiB), not allocated per file.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// errWriter remembers the first write error of w (so a failed copy can
// tell this node's disk from the network) and counts what it wrote into
// the batch's progress.
type errWriter struct {
	w   io.Writer
	p   *progress
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	n, err := e.w.Write(b)
	if err != nil && e.err == nil {
		e.err = err
	}
	if e.p != nil {
		e.p.bytesDone.Add(int64(n))
	}
	return n, err
}

// lazyHash is a content hash that can be switched off.
type lazyHash struct {
	on bool
	h  hash.Hash
}

func (l *lazyHash) Write(p []byte) (int, error) {
	if !l.on {
		return len(p), nil
	}
	if l.h == nil {
		l.h = newContentHash()
	}
	return l.h.Write(p)
}

func (l *lazyHash) Sum() []byte {
	if l.h == nil {
		l.h = newContentHash()
	}
	return l.h.Sum(nil)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
