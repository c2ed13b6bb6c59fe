package adminapi

import (
	"errors"
	"io/fs"
	"net"
	"syscall"
)

// ucred is the user and group of the process at the other end of a Unix
// socket, as the kernel recorded them when it connected (SO_PEERCRED).
type ucred struct{ pid, uid, gid int }

// peerCred reads SO_PEERCRED of a Unix socket connection.
func peerCred(c net.Conn) (ucred, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ucred{}, errors.New("not a Unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ucred{}, err
	}
	var cred *syscall.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return ucred{}, err
	}
	if serr != nil {
		return ucred{}, serr
	}
	return ucred{pid: int(cred.Pid), uid: int(cred.Uid), gid: int(cred.Gid)}, nil
}

// ownerUID is the owner of a file (-1 when unknown).
func ownerUID(st fs.FileInfo) int {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid)
	}
	return -1
}
