package schedsync

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writer changes the secondary's directory. Every change of the tree is
// made on a parent directory opened without following symlinks (beneath:
// openat2 with RESOLVE_NO_SYMLINKS, or the os.Root where that is refused),
// with the last name never followed, so no path (or symlink planted on the
// way) can leave it or be written through. A
// file is written to a temporary file in .redund/tmp, synced, given its
// mode and mtime, then renamed over the old name, and the directory is
// synced: a crash leaves the old file or the new one, never a mix.
// Temporary files live only in .redund/tmp (where redund alone writes) and
// are removed from there at start; no user name is ever taken or removed.
type writer struct {
	root      *os.Root
	bn        *beneath // the tree's directories, opened without following links
	conflicts conflictLog
	tmpReady  atomic.Bool // .redund/tmp exists
	stateDir  *os.File    // .redund, opened without following a link and checked at start (openStateDir)

	// testSynced, when set (tests only), is told the name of every
	// directory or file made durable by syncDir, syncMeta or syncAll
	// ("." for a syncfs).
	testSynced func(name string)

	tmpMu   sync.Mutex
	tmp     *os.Root   // .redund/tmp itself: a temporary file is one openat, not a walk from the root
	oldTmps []*os.Root // replaced after .redund/tmp was removed; closed with the writer
}

func openWriter(dir string) (*writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("schedsync: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("schedsync: %w", err)
	}
	bn, err := newBeneath(r)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("schedsync: %w", err)
	}
	sd, err := openStateDir(bn.top, dir)
	if err != nil {
		_ = bn.close()
		r.Close()
		return nil, err
	}
	return &writer{root: r, bn: bn, stateDir: sd}, nil
}

// openStateDir opens the tree's .redund without following a link, creating
// it (0700) when it is missing, and refuses to start when it is a symlink,
// not a directory, or owned by another user than this process: someone who
// may write in the top directory could else swap it for a link and have the
// node write its state, journal and conflicts where the link leads (the
// os.Root follows a link that stays inside the tree). The descriptor is
// kept for the node's life (see docs/security.md for what still goes
// through the os.Root).
func openStateDir(top *os.File, dir string) (*os.File, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	bad := func(why string) error {
		return fmt.Errorf("schedsync: %s: %s; refusing to start (remove or fix it: redund creates its own, mode 0700)",
			path.Join(dir, stateDirName), why)
	}
	fd, err := unix.Openat(int(top.Fd()), stateDirName, flags, 0)
	if errors.Is(err, unix.ENOENT) {
		if err := unix.Mkdirat(int(top.Fd()), stateDirName, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("schedsync: %s: %w", path.Join(dir, stateDirName), err)
		}
		fd, err = unix.Openat(int(top.Fd()), stateDirName, flags, 0)
	}
	if err != nil {
		var st unix.Stat_t
		switch {
		case unix.Fstatat(int(top.Fd()), stateDirName, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && isLinkStat(st):
			return nil, bad("is a symbolic link")
		case errors.Is(err, unix.ENOTDIR):
			return nil, bad("is not a directory")
		}
		return nil, fmt.Errorf("schedsync: %s: %w", path.Join(dir, stateDirName), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("schedsync: %s: %w", path.Join(dir, stateDirName), err)
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid {
		_ = unix.Close(fd)
		return nil, bad(fmt.Sprintf("is owned by uid %d, not by this process (uid %d)", st.Uid, uid))
	}
	return os.NewFile(uintptr(fd), stateDirName), nil
}

// symlinkSafe reports whether writes are made through directories opened
// with openat2(RESOLVE_NO_SYMLINKS) (a link swapped in at any moment is
// never followed), not through the os.Root (see beneath).
func (w *writer) symlinkSafe() bool { return w.bn.safe }

// openRead opens the tree's file rel for reading, following no symlink
// (the primary serves only what its scan could read: a parent swapped for
// a link to .redund or outside since is not read through).
func (w *writer) openRead(rel string) (*os.File, error) {
	return w.bn.openFile(rel, os.O_RDONLY, 0)
}

func (w *writer) close() error {
	w.tmpMu.Lock()
	for _, r := range append(w.oldTmps, w.tmp) {
		if r != nil {
			_ = r.Close()
		}
	}
	w.tmp, w.oldTmps = nil, nil
	w.tmpMu.Unlock()
	_ = w.bn.close()
	_ = w.stateDir.Close()
	return w.root.Close()
}

// tempFile is a file being written under a temporary name.
type tempFile struct {
	*os.File
	rel     string // temporary path
	written int64  // bytes written
	kicked  int64  // bytes handed to the disk (writeback started)
}

// writebackChunk: every this many bytes written, the kernel is asked to
// start writing them to disk (without waiting), so the disk works while
// the transfer goes on and the fsync or syncfs that makes the batch
// durable finds little left to write.
const writebackChunk = 4 << 20

func (t *tempFile) Write(p []byte) (int, error) {
	n, err := t.File.Write(p)
	t.written += int64(n)
	if t.written-t.kicked >= writebackChunk {
		t.startWriteback()
	}
	return n, err
}

// startWriteback starts (SYNC_FILE_RANGE_WRITE does not wait) the disk
// writes of what was written since the last call. It is only a head
// start: durability still comes from fsync or syncfs.
func (t *tempFile) startWriteback() {
	if t.written > t.kicked {
		_ = unix.SyncFileRange(int(t.Fd()), t.kicked, t.written-t.kicked, unix.SYNC_FILE_RANGE_WRITE)
		t.kicked = t.written
	}
}

// create opens a new temporary file that install later renames to rel,
// whose parent directories it creates now unless parentReady says they
// were made for this batch already (a walk of the path less per file).
func (w *writer) create(rel string, parentReady bool) (*tempFile, error) {
	if !parentReady {
		if err := w.mkdirParents(rel); err != nil {
			return nil, err
		}
	}
	for try := 0; ; try++ {
		tr, err := w.tmpRoot()
		if err != nil {
			return nil, err
		}
		name := randomName()
		f, err := tr.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if errors.Is(err, fs.ErrNotExist) && try == 0 { // .redund/tmp was removed meanwhile
			w.dropTmpRoot(tr)
			continue
		}
		if err != nil {
			return nil, err
		}
		return &tempFile{File: f, rel: path.Join(tempDir, name)}, nil
	}
}

// tmpRoot returns .redund/tmp opened (created when missing).
func (w *writer) tmpRoot() (*os.Root, error) {
	w.tmpMu.Lock()
	defer w.tmpMu.Unlock()
	if w.tmp != nil {
		return w.tmp, nil
	}
	if err := w.root.MkdirAll(tempDir, 0o700); err != nil {
		return nil, err
	}
	r, err := w.root.OpenRoot(tempDir)
	if err != nil {
		return nil, err
	}
	w.tmp = r
	w.tmpReady.Store(true)
	return r, nil
}

// dropTmpRoot forgets tr (its directory was removed): the next tmpRoot
// opens .redund/tmp again. tr stays open (others may be using it) until
// the writer closes.
func (w *writer) dropTmpRoot(tr *os.Root) {
	w.tmpMu.Lock()
	defer w.tmpMu.Unlock()
	if w.tmp == tr {
		w.oldTmps = append(w.oldTmps, tr)
		w.tmp = nil
		w.tmpReady.Store(false)
	}
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// tempName returns a fresh name in .redund/tmp (created when missing).
func (w *writer) tempName() (string, error) {
	if !w.tmpReady.Load() {
		if err := w.root.MkdirAll(tempDir, 0o700); err != nil {
			return "", err
		}
		w.tmpReady.Store(true)
	}
	return path.Join(tempDir, randomName()), nil
}

// discard removes an unfinished temporary file.
func (w *writer) discard(t *tempFile) {
	_ = t.Close()
	_ = w.root.Remove(t.rel)
}

// finish gives t e's mode and mtime (through its descriptor: no path is
// looked up again), syncs it when durable, and closes it. The file keeps
// its temporary name until install.
func (w *writer) finish(t *tempFile, e Entry, durable bool) error {
	err := t.Chmod(goMode(e.Mode))
	if err == nil {
		err = futimens(t.File, e.MTime) // after the last write, which moves the mtime
	}
	if err == nil && durable {
		err = t.Sync() // data, mode and mtime
	}
	if err != nil {
		w.discard(t)
		return err
	}
	if !durable {
		t.startWriteback() // the batch's syncfs makes it durable
	}
	if err := t.Close(); err != nil {
		_ = w.root.Remove(t.rel)
		return err
	}
	return nil
}

// futimens sets f's access and modification times to mtime (nanoseconds).
func futimens(f *os.File, mtime int64) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(mtime), unix.NsecToTimespec(mtime)}
	// utimensat(fd, NULL, ...) is futimens(3): the file itself
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return &fs.PathError{Op: "futimens", Path: f.Name(), Err: e}
	}
	return nil
}

// install renames a finished temporary file over e.Path, moving a
// directory or symlink of the same name aside first (a file simply
// replaces the old one). durable syncs the directory afterwards.
//
// The rename is tried first: a directory in the way makes it fail
// (EISDIR: rename(2) never puts a file over a directory, empty or not),
// and only then is the directory looked at. An install that
// looked first cost one more walk of the path per file, about 4 % of the
// secondary's CPU in an initial copy of 10,000 files.
func (w *writer) install(tmp string, rel string, durable bool) error {
	dh := w.handles()
	defer dh.close()
	return w.installVia(dh, tmp, rel, durable)
}

// installVia is install with the directories held by dh (a batch installs
// all its files through one).
func (w *writer) installVia(dh *dirHandles, tmp string, rel string, durable bool) error {
	err := dh.rename(tmp, rel)
	if errors.Is(err, unix.EISDIR) { // a directory in the way
		if st, lerr := w.bn.lstat(rel); lerr == nil && isDirStat(st) {
			if err := w.bn.remove(rel); err != nil { // not empty: keep what is in it
				if err := w.moveAside(rel, "a directory with unsynced files stood where a file goes"); err != nil {
					return err
				}
			}
			err = dh.rename(tmp, rel)
		}
	}
	if err != nil {
		if errors.Is(err, unix.EXDEV) {
			return fmt.Errorf("%s is on another file system than the directory (mount points inside dir are not supported): %w", rel, err)
		}
		return err
	}
	if durable {
		d, err := dh.dir(path.Dir(rel))
		if err != nil {
			return err
		}
		return d.Sync()
	}
	return nil
}

// changedSince reports whether rel on disk is no longer what the plan saw
// (loc, or nothing when !had): a file edited, made or replaced here since.
// It stats the name in its directory, held open by dh (one fstatat, no
// walk of the path). A directory in the way is install's business.
func (w *writer) changedSince(dh *dirHandles, rel string, loc Entry, had bool) bool {
	d, err := dh.dir(path.Dir(rel))
	if err != nil {
		return false // install fails on it and says why
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.Fd()), path.Base(rel), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false // nothing there: nothing to lose
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return false
	case unix.S_IFREG:
		return !had || loc.Kind != KindFile || st.Size != loc.Size || st.Mtim.Nano() != loc.MTime
	default:
		return !had || loc.Kind != KindLink
	}
}

// dirHandles keeps the directories one installAll renames between open,
// so that installing a file is one renameat(2) between two open
// directories instead of two walks of its paths through the os.Root (an
// openat and a close per component: 9 % of the secondary's CPU in an
// initial copy of 10,000 files, with the renames' 10 %).
//
// Each directory is opened beneath the top without following links
// (beneath.openDir: one openat2 per directory and batch, not one openat per
// path component), so it is inside the tree and reached through no link
// when opened, and a rename relative to it takes a base name, never a
// path: a symlink planted later is not followed. A directory moved out of
// the tree while the batch installs would receive the batch's files where
// it was moved to; moving it takes write access to both places, so this
// gives nobody a place they could not write to already.
type dirHandles struct {
	w    *writer
	dirs map[string]*os.File
}

func (w *writer) handles() *dirHandles { return &dirHandles{w: w, dirs: map[string]*os.File{}} }

// dir returns the directory rel, opened beneath the top on first use.
func (dh *dirHandles) dir(rel string) (*os.File, error) {
	if d, ok := dh.dirs[rel]; ok {
		return d, nil
	}
	d, err := dh.w.bn.openDir(rel)
	if err != nil {
		return nil, err
	}
	dh.dirs[rel] = d
	return d, nil
}

// rename renames tmp to rel (both relative to the root).
func (dh *dirHandles) rename(tmp, rel string) error {
	from, err := dh.dir(path.Dir(tmp))
	if err != nil {
		return err
	}
	to, err := dh.dir(path.Dir(rel))
	if err != nil {
		return err
	}
	if err := unix.Renameat(int(from.Fd()), path.Base(tmp), int(to.Fd()), path.Base(rel)); err != nil {
		return &os.LinkError{Op: "renameat", Old: tmp, New: rel, Err: err}
	}
	return nil
}

func (dh *dirHandles) close() {
	for _, d := range dh.dirs {
		_ = d.Close()
	}
	clear(dh.dirs)
}

// goMode turns a manifest's POSIX mode into Go's (setuid, setgid and
// sticky live far above 0o7777 in fs.FileMode).
func goMode(m uint32) fs.FileMode {
	out := fs.FileMode(m) & fs.ModePerm
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// syncDir fsyncs a directory, making renames in it durable.
func (w *writer) syncDir(rel string) error {
	d, err := w.bn.openDir(rel)
	if err != nil {
		return err
	}
	defer d.Close()
	return w.fsync(d, rel)
}

func (w *writer) fsync(f *os.File, rel string) error {
	if err := f.Sync(); err != nil {
		return err
	}
	if w.testSynced != nil {
		w.testSynced(rel)
	}
	return nil
}

// syncMeta makes a mode or mtime change of rel (setMeta, setLinkTime)
// durable: an fsync of the file itself (chmod and utimensat change only its
// inode), or for a symlink, which cannot be opened, of its directory. A file
// this process may not open (mode 0 without CAP_DAC_OVERRIDE) is made
// durable with a syncfs. O_NONBLOCK: a FIFO swapped in since the scan does
// not hang the batch.
func (w *writer) syncMeta(rel string, kind Kind) error {
	if kind == KindLink {
		return w.syncDir(path.Dir(rel))
	}
	f, err := w.bn.openFile(rel, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrPermission) {
		return w.syncAll()
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return w.fsync(f, rel)
}

// syncAll makes everything written to the file system durable with one
// syncfs(2): cheaper than one fsync per file for big batches.
func (w *writer) syncAll() error {
	d, err := w.root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return err
	}
	if w.testSynced != nil {
		w.testSynced(".")
	}
	return nil
}

// mkdirParents creates the missing parent directories of rel. A symlink
// where a directory must be is refused (nothing is written below a link:
// the checks before the batch refused the ones they saw, so this one was
// made since); a file there is moved aside.
func (w *writer) mkdirParents(rel string) error {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	if w.bn.isDir(dir) { // one openat2: all there, no link on the way
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		st, err := w.bn.lstat(p)
		switch {
		case err == nil && isDirStat(st):
			continue
		case err == nil && isLinkStat(st):
			return &fs.PathError{Op: "mkdir", Path: p, Err: fmt.Errorf("%w: %s is a symlink here, not a directory", errBelowLink, p)}
		case err == nil: // a file where a directory must be
			if err := w.moveAside(p, "replaced by a directory"); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if err := w.bn.mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// mkdir creates (or fixes the mode of) the directory e.Path.
func (w *writer) mkdir(e Entry) error {
	if err := w.mkdirParents(e.Path); err != nil {
		return err
	}
	// the parent opened once (without following links) for the lstat,
	// mkdir and chmod
	return w.bn.at(e.Path, func(d int, name string) error {
		var st unix.Stat_t
		if err := unix.Fstatat(d, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && !isDirStat(st) {
			if err := w.moveAside(e.Path, "replaced by a directory"); err != nil {
				return err
			}
		}
		if err := unix.Mkdirat(d, name, 0o700); err != nil && err != unix.EEXIST {
			return &fs.PathError{Op: "mkdirat", Path: e.Path, Err: err}
		}
		return chmodAt(d, name, e.Path, posixBits(e.Mode))
	})
}

// posixBits keeps what chmod(2) sets of a manifest's mode: permission
// bits, setuid, setgid and sticky (the same bits goMode keeps).
func posixBits(m uint32) uint32 { return m & 0o7777 }

// setDirTime applies a directory's mtime (after its children are written).
func (w *writer) setDirTime(e Entry) error {
	return w.bn.chtimes(e.Path, e.MTime)
}

// symlink installs the symlink e atomically.
func (w *writer) symlink(e Entry) error {
	if err := checkLinkTarget(e.Path, e.Target); err != nil {
		return err
	}
	if err := w.mkdirParents(e.Path); err != nil {
		return err
	}
	tmp, err := w.tempName()
	if err != nil {
		return err
	}
	if err := w.root.Symlink(e.Target, tmp); err != nil {
		return err
	}
	if err := w.setLinkTime(tmp, e.MTime); err != nil { // rename keeps it
		_ = w.root.Remove(tmp)
		return err
	}
	if err := w.install(tmp, e.Path, false); err != nil {
		_ = w.root.Remove(tmp)
		return err
	}
	return nil
}

// remove deletes rel (a file, symlink or empty directory); a directory
// still holding files the primary does not have is moved aside instead.
func (w *writer) remove(rel string) error {
	err := w.bn.remove(rel)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if st, lerr := w.bn.lstat(rel); lerr == nil && isDirStat(st) {
		return w.moveAside(rel, "directory held unsynced files")
	}
	return err
}

// setMeta applies a file's mode and mtime in place.
func (w *writer) setMeta(e Entry) error {
	return w.bn.at(e.Path, func(d int, name string) error {
		if err := chmodAt(d, name, e.Path, posixBits(e.Mode)); err != nil {
			return err
		}
		return chtimesAt(d, name, e.Path, e.MTime)
	})
}

// setLinkTime sets the mtime of the symlink rel itself (rsync -a keeps
// them too): utimensat(2) with AT_SYMLINK_NOFOLLOW on a directory opened
// beneath the top, so the link is neither followed nor looked up outside.
func (w *writer) setLinkTime(rel string, mtime int64) error {
	return w.bn.chtimes(rel, mtime)
}

// spoolMem is how much of a spooled body is held in memory; the rest goes
// to a temporary file.
const spoolMem = 16 << 20

// spool reads r to its end and returns what it read: in memory up to
// spoolMem, beyond that from an unlinked temporary file in .redund/tmp
// (so what it costs is the body's size, on disk for a large one).
func (w *writer) spool(r io.Reader) (io.ReadCloser, error) {
	var mem bytes.Buffer
	n, err := io.Copy(&mem, io.LimitReader(r, spoolMem+1))
	if err != nil {
		return nil, err
	}
	if n <= spoolMem {
		return io.NopCloser(&mem), nil
	}
	tr, err := w.tmpRoot()
	if err != nil {
		return nil, err
	}
	name := randomName()
	f, err := tr.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	_ = tr.Remove(name) // nothing to clean up, whatever happens next
	if _, err := mem.WriteTo(f); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
