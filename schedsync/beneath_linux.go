package schedsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// beneath opens the directories of the tree without following any
// symlink: openat2(2) with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS from the
// tree's top directory. Every change of the tree is then one *at call on
// the parent directory so opened, with the last name never followed
// (renameat, unlinkat, mkdirat, fchmodat2 and utimensat with
// AT_SYMLINK_NOFOLLOW, openat with O_NOFOLLOW): a directory that someone
// who may write in the tree swaps for a link between redund's check and
// its write makes the write fail (ELOOP), instead of going where the link
// leads (an os.Root follows links that stay inside, e.g. into .redund).
//
// Where openat2 is refused (ENOSYS on kernels before 5.6, EPERM or ENOSYS
// from a seccomp filter), directories are opened through the os.Root as
// before: the checks before the write still refuse links found on disk,
// and a link swapped in between them and the write is followed when it
// stays inside the tree. Which of the two is used is decided once per
// process (symlinkSafe) and shown in the status and the log.
type beneath struct {
	root *os.Root // the fallback, and what the caller keeps using for .redund
	top  *os.File // the tree's top directory (openat2's starting point)
	safe bool
}

func newBeneath(root *os.Root) (*beneath, error) {
	top, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	return &beneath{root: root, top: top, safe: symlinkSafe(int(top.Fd()))}, nil
}

func (b *beneath) close() error { return b.top.Close() }

// resolveBeneath: no symlink anywhere on the path, and never above the top.
const resolveBeneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS

var (
	safeOnce sync.Once
	safeOK   bool
)

// symlinkSafe reports whether openat2 with RESOLVE_NO_SYMLINKS works here,
// asking the kernel once per process.
func symlinkSafe(fd int) bool {
	safeOnce.Do(func() {
		d, err := unix.Openat2(fd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveBeneath})
		if err == nil {
			_ = unix.Close(d)
			safeOK = true
		}
		// ENOSYS, EPERM (seccomp) or anything else: the fallback
	})
	return safeOK
}

// errBelowLink is the error of an operation whose path goes through a
// symlink (ELOOP from RESOLVE_NO_SYMLINKS or O_NOFOLLOW).
var errBelowLink = errors.New("a symlink is on the way (not followed)")

func beneathErr(op, rel string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
		// EXDEV: RESOLVE_BENEATH saw the path leave the top
		err = fmt.Errorf("%w: %w", errBelowLink, err)
	}
	return &fs.PathError{Op: op, Path: rel, Err: err}
}

// openDir opens the directory rel ("." is the top).
func (b *beneath) openDir(rel string) (*os.File, error) {
	if !b.safe {
		return b.root.Open(rel)
	}
	fd, err := openat2Retry(int(b.top.Fd()), rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, beneathErr("open", rel, err)
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// openFile opens rel with flag, following no symlink (the last name
// included: O_NOFOLLOW).
func (b *beneath) openFile(rel string, flag int, perm fs.FileMode) (*os.File, error) {
	if !b.safe { // the os.Root would follow a link at rel itself: openat on its parent
		var f *os.File
		err := b.at(rel, func(d int, name string) error {
			fd, err := unix.Openat(d, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
			if err != nil {
				return beneathErr("open", rel, err)
			}
			f = os.NewFile(uintptr(fd), rel)
			return nil
		})
		return f, err
	}
	fd, err := openat2Retry(int(b.top.Fd()), rel, uint64(flag)|unix.O_CLOEXEC|unix.O_NOFOLLOW, uint64(perm.Perm()))
	if err != nil {
		return nil, beneathErr("open", rel, err)
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// openat2Retry retries EAGAIN, which RESOLVE_BENEATH returns when a rename
// elsewhere on the file system raced the lookup.
func openat2Retry(dirfd int, rel string, flags, mode uint64) (int, error) {
	how := &unix.OpenHow{Flags: flags, Mode: mode, Resolve: resolveBeneath}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(dirfd, rel, how)
		if err == unix.EAGAIN && try < 16 {
			continue
		}
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// at runs op on the last name of rel in its parent directory, opened
// without following links (a bare descriptor: openat2, op, close).
func (b *beneath) at(rel string, op func(dirfd int, name string) error) error {
	return b.inDir(path.Dir(rel), func(d int) error { return op(d, path.Base(rel)) })
}

// inDir runs op on the directory rel, opened without following links.
func (b *beneath) inDir(rel string, op func(dirfd int) error) error {
	if !b.safe {
		d, err := b.root.Open(rel)
		if err != nil {
			return err
		}
		defer d.Close()
		return op(int(d.Fd()))
	}
	fd, err := openat2Retry(int(b.top.Fd()), rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return beneathErr("open", rel, err)
	}
	defer unix.Close(fd)
	return op(fd)
}

// isDir reports whether rel is a directory reached through no link.
func (b *beneath) isDir(rel string) bool {
	return b.inDir(rel, func(int) error { return nil }) == nil
}

// lstat describes rel itself (a link is not followed).
func (b *beneath) lstat(rel string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := b.at(rel, func(d int, name string) error {
		if err := unix.Fstatat(d, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &fs.PathError{Op: "lstat", Path: rel, Err: err}
		}
		return nil
	})
	return st, err
}

// mkdir creates the directory rel.
func (b *beneath) mkdir(rel string, perm uint32) error {
	return b.at(rel, func(d int, name string) error {
		if err := unix.Mkdirat(d, name, perm); err != nil {
			return &fs.PathError{Op: "mkdirat", Path: rel, Err: err}
		}
		return nil
	})
}

// remove removes rel: a file or link (the link itself), or an empty
// directory.
func (b *beneath) remove(rel string) error {
	return b.at(rel, func(d int, name string) error {
		err := unix.Unlinkat(d, name, 0)
		if err == unix.EISDIR || err == unix.EPERM {
			err = unix.Unlinkat(d, name, unix.AT_REMOVEDIR)
		}
		if err != nil {
			return &fs.PathError{Op: "remove", Path: rel, Err: err}
		}
		return nil
	})
}

// chmod sets rel's POSIX mode (permission bits, setuid, setgid, sticky);
// a symlink there is refused, not followed.
func (b *beneath) chmod(rel string, mode uint32) error {
	return b.at(rel, func(d int, name string) error { return chmodAt(d, name, rel, mode) })
}

// chmodAt is chmod of name in the directory d.
func chmodAt(d int, name, rel string, mode uint32) error {
	err := unix.Fchmodat(d, name, mode, unix.AT_SYMLINK_NOFOLLOW) // fchmodat2 (Linux 6.6)
	if err == unix.EOPNOTSUPP {
		// a symlink, or no fchmodat2 (before Linux 6.6): what glibc's
		// lchmod does, the name held with O_PATH, checked, and changed
		// through /proc/self/fd (the inode held, whatever the name is now)
		err = chmodHeld(d, name, mode)
	}
	if err != nil {
		return &fs.PathError{Op: "chmod", Path: rel, Err: err}
	}
	return nil
}

// chmodHeld changes the mode of name in d, held open with O_PATH and
// O_NOFOLLOW (a symlink there is refused); without /proc, by name after
// the check (a link swapped in at that instant would then be followed).
func chmodHeld(d int, name string, mode uint32) error {
	fd, err := unix.Openat(d, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("%w: %w", errBelowLink, unix.ELOOP)
	}
	err = unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), mode, 0)
	if err == unix.ENOENT { // no /proc
		err = unix.Fchmodat(d, name, mode, 0)
	}
	return err
}

// chtimes sets rel's access and modification times to mtime (Unix
// nanoseconds); a symlink's own times, not its target's.
func (b *beneath) chtimes(rel string, mtime int64) error {
	return b.at(rel, func(d int, name string) error { return chtimesAt(d, name, rel, mtime) })
}

// chtimesAt is chtimes of name in the directory d.
func chtimesAt(d int, name, rel string, mtime int64) error {
	ts := unix.NsecToTimespec(mtime)
	if err := unix.UtimesNanoAt(d, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimensat", Path: rel, Err: err}
	}
	return nil
}

// rename renames from to to (the names themselves: links not followed).
func (b *beneath) rename(from, to string) error {
	return b.at(from, func(fd int, fname string) error {
		return b.at(to, func(td int, tname string) error {
			if err := unix.Renameat(fd, fname, td, tname); err != nil {
				return &os.LinkError{Op: "renameat", Old: from, New: to, Err: err}
			}
			return nil
		})
	})
}

func isDirStat(st unix.Stat_t) bool  { return st.Mode&unix.S_IFMT == unix.S_IFDIR }
func isLinkStat(st unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFLNK }
