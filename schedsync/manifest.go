package schedsync

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Kind is the type of a manifest entry.
type Kind uint8

// Entry kinds. Sockets, devices and unsafe symlinks are never synced.
const (
	KindFile Kind = 1
	KindDir  Kind = 2
	KindLink Kind = 3
)

// Entry is one path of the tree: what the primary has, or (with Deleted) a
// change record saying the path is gone.
type Entry struct {
	Path    string   // slash-separated, relative to the directory
	Kind    Kind     // file, dir or symlink
	Size    int64    // bytes (files)
	Mode    uint32   // POSIX permission bits: 0o777 plus setuid 04000, setgid 02000, sticky 01000
	MTime   int64    // modification time, Unix nanoseconds
	Hash    [32]byte // content hash (contenthash.go; files)
	Target  string   // symlink target (links)
	Deleted bool     // change record: the path no longer exists
	Seq     uint64   // change-log sequence number that last touched it
}

// same reports whether a and b describe the same content and metadata.
func (e Entry) same(o Entry) bool {
	return e.Kind == o.Kind && e.Size == o.Size && e.Mode == o.Mode && e.MTime == o.MTime &&
		e.Hash == o.Hash && e.Target == o.Target && e.Deleted == o.Deleted
}

// sameContent ignores the modification time and mode.
func (e Entry) sameContent(o Entry) bool {
	return e.Kind == o.Kind && e.Size == o.Size && e.Hash == o.Hash && e.Target == o.Target
}

// Tree is a manifest: every synced path of a directory.
type Tree map[string]Entry

// sorted returns the entries in path order (parents before children).
func (t Tree) sorted() []Entry {
	out := make([]Entry, 0, len(t))
	for _, e := range t {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// scanner builds trees of a directory, reusing the hashes of files whose
// size, mtime and mode did not change (rsync's quick check).
type scanner struct {
	root  string
	match *matcher
	skips map[string]string // paths skipped by the last scan or rescan, and why
	kept  *hashCache        // nil, or where hashes are kept for the delta answers (primary)

	// top and dirs: the tree's directories, opened without following
	// links (see beneath) while a scan or rescan runs; dirs is nil outside
	top  *os.File
	dirs map[string]*os.File

	testBeforeWalk func(rel string) // tests: runs between rescan's check of rel's parents and its walk
}

// maxScanDirs bounds the directories a scan holds open: beyond it they
// are closed and opened again when needed.
const maxScanDirs = 256

// begin opens what a scan reads through; end closes it.
func (s *scanner) begin() { s.dirs = map[string]*os.File{} }

func (s *scanner) end() {
	for _, d := range s.dirs {
		d.Close()
	}
	s.dirs = nil
	if s.top != nil {
		s.top.Close()
		s.top = nil
	}
}

// dir returns the directory rel of the tree, opened with openat2
// (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) from the top: a symlink anywhere
// on the way fails it with errBelowLink, so a parent swapped for a link
// after the walk saw a directory is not read through. Where openat2 is
// refused (symlinkSafe), by its path as before. release closes it unless
// a scan keeps it.
func (s *scanner) dir(rel string) (d *os.File, release func(), err error) {
	if d, ok := s.dirs[rel]; ok {
		return d, func() {}, nil
	}
	if s.top == nil {
		t, err := os.Open(s.root)
		if err != nil {
			return nil, nil, err
		}
		s.top = t
	}
	if !symlinkSafe(int(s.top.Fd())) {
		d, err = os.Open(filepath.Join(s.root, filepath.FromSlash(rel)))
	} else {
		var fd int
		fd, err = openat2Retry(int(s.top.Fd()), rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			err = beneathErr("open", rel, err)
		} else {
			d = os.NewFile(uintptr(fd), rel)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if s.dirs == nil { // not in a scan: this call's alone
		top := s.top
		s.top = nil
		return d, func() { d.Close(); top.Close() }, nil
	}
	if len(s.dirs) >= maxScanDirs {
		for k, o := range s.dirs {
			o.Close()
			delete(s.dirs, k)
		}
	}
	s.dirs[rel] = d
	return d, func() {}, nil
}

// scan walks the whole directory.
func (s *scanner) scan(prev Tree) (Tree, error) {
	s.skips = map[string]string{}
	s.begin()
	defer s.end()
	out := Tree{}
	err := s.walk(".", prev, out)
	return out, err
}

// walk adds rel and everything below it to out.
func (s *scanner) walk(rel string, prev, out Tree) error {
	base := filepath.Join(s.root, filepath.FromSlash(rel))
	return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // vanished while walking; the next event or scan settles it
			}
			return err
		}
		r, _ := filepath.Rel(s.root, p)
		r = filepath.ToSlash(r)
		if r == "." {
			return nil
		}
		if err := checkRelPath(r); err != nil && !s.match.excluded(r, d.IsDir()) {
			s.skip(r, err.Error()) // a secondary would refuse the whole manifest
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if s.match.excluded(r, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		e, ok, err := s.stat(r, prev)
		if err != nil || !ok {
			return err
		}
		out[r] = e
		return nil
	})
}

// stat describes one path; ok is false when it is skipped or gone. The
// path is read in its parent directory opened without following links
// (dir), its last name never followed either: one fstatat, and an openat
// with O_NOFOLLOW to hash a file, as an lstat and an open by path cost.
// A path with a symlink on the way is skipped (noted once, counted).
func (s *scanner) stat(rel string, prev Tree) (Entry, bool, error) {
	d, release, err := s.dir(path.Dir(rel))
	if err != nil {
		return s.statFailed(rel, err)
	}
	defer release()
	name := path.Base(rel)
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return s.statFailed(rel, &fs.PathError{Op: "lstat", Path: rel, Err: err})
	}
	// st_mode's low bits are the manifest's: 0o777, setuid 04000, setgid
	// 02000, sticky 01000 (what chmod(2) takes)
	e := Entry{Path: rel, Mode: st.Mode & 0o7777, MTime: st.Mtim.Nano()}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.Kind, e.Size = KindFile, st.Size
		if p, ok := prev[rel]; ok && p.Kind == KindFile && p.Size == e.Size && p.MTime == e.MTime {
			e.Hash = p.Hash
			return e, true, nil
		}
		h, err := s.hashAt(d, name, rel)
		if err != nil {
			return s.statFailed(rel, err)
		}
		e.Hash = h
	case unix.S_IFDIR:
		e.Kind = KindDir
	case unix.S_IFLNK:
		t, err := readlinkAt(d, name)
		if err != nil {
			return Entry{}, false, nil
		}
		// every link is in the tree, the ones leading out too: they take
		// part in resolving the others (see linkVerdict), and only the
		// verdict keeps them out of the manifest
		e.Kind, e.Target, e.Mode = KindLink, t, 0o777
	default:
		s.skip(rel, "not a file, directory or symlink")
		return Entry{}, false, nil
	}
	return e, true, nil
}

// statFailed is stat's answer to err: gone, skipped below a link, or err.
func (s *scanner) statFailed(rel string, err error) (Entry, bool, error) {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ENOTDIR):
		return Entry{}, false, nil
	case errors.Is(err, errBelowLink):
		s.skip(rel, "a symlink is on its way here (a parent became a link): not read through it")
		return Entry{}, false, nil
	}
	return Entry{}, false, err
}

// readlinkAt reads the target of the link name in d.
func readlinkAt(d *os.File, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(int(d.Fd()), name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}

func (s *scanner) skip(rel, why string) {
	if s.skips == nil {
		s.skips = map[string]string{}
	}
	s.skips[rel] = why
}

// rescan re-reads the given paths (and, for directories, everything below
// them) and returns the entries that changed, deletions included. It costs
// one pass over cur however many paths are dirty (a batch can name every
// file of the tree: comparing each path with the whole tree was quadratic).
func (s *scanner) rescan(cur Tree, dirty []string) []Entry {
	s.skips = map[string]string{}
	s.begin()
	defer s.end()
	var changes []Entry
	seen := map[string]bool{}
	walked := map[string]Tree{}  // what each dirty path holds now
	realDir := map[string]bool{} // ancestors of dirty paths: a directory on disk?
	for _, rel := range dirty {
		if seen[rel] || rel == "" || rel == "." || checkRelPath(rel) != nil {
			continue
		}
		seen[rel] = true
		sub := Tree{}
		if !s.match.excludedUnder(rel) && !s.underLink(rel, realDir) {
			if s.testBeforeWalk != nil {
				s.testBeforeWalk(rel)
			}
			_ = s.walk(rel, cur, sub)
		}
		walked[rel] = sub
		for p, e := range sub {
			if old, ok := cur[p]; !ok || !old.same(e) {
				changes = append(changes, e)
			}
		}
	}
	// deletions: a path of cur that is a dirty path, or below one, and
	// that the walk of that dirty path did not find
	for p, old := range cur {
		for a := p; ; a = path.Dir(a) {
			if sub, ok := walked[a]; ok && !inTree(sub, p) {
				changes = append(changes, Entry{Path: p, Kind: old.Kind, Deleted: true})
			}
			if !strings.Contains(a, "/") {
				break
			}
		}
	}
	return changes
}

func inTree(t Tree, p string) bool { _, ok := t[p]; return ok }

// underLink reports whether a parent directory of rel is not a directory on
// disk now (a symlink, a file, or gone): rel is then not in the tree, and
// walking it would follow the link (a dirty path noted while x was a
// directory, rescanned after x became a link out of the tree, read the
// files there into the manifest). realDir caches the answers of one
// rescan. A link swapped in between this check and the walk is caught by
// stat (openat2 with RESOLVE_NO_SYMLINKS), where openat2 works.
func (s *scanner) underLink(rel string, realDir map[string]bool) bool {
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		ok, known := realDir[d]
		if !known {
			fi, err := os.Lstat(filepath.Join(s.root, filepath.FromSlash(d)))
			ok = err == nil && fi.IsDir()
			realDir[d] = ok
		}
		if !ok {
			return true
		}
	}
	return false
}

// diff returns the changes that turn old into cur.
func diff(old, cur Tree) []Entry {
	var out []Entry
	for p, e := range cur {
		if o, ok := old[p]; !ok || !o.same(e) {
			out = append(out, e)
		}
	}
	for p, o := range old {
		if _, ok := cur[p]; !ok {
			out = append(out, Entry{Path: p, Kind: o.Kind, Deleted: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// hashAt hashes the file name in d (rel in the tree), opened with
// O_NOFOLLOW (a link swapped in since the fstatat is not followed),
// keeping the hash when the scanner keeps them.
func (s *scanner) hashAt(d *os.File, name, rel string) ([32]byte, error) {
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.ELOOP { // a link now: not followed
			err = fmt.Errorf("%w: %w", errBelowLink, err)
		}
		return [32]byte{}, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	if s.kept != nil {
		return s.kept.hashOpenKept(f, rel)
	}
	var sum [32]byte
	h := newContentHash()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// hashFile returns the content hash of a file.
func hashFile(name string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(name)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := newContentHash()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
