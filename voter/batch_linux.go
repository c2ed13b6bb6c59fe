//go:build linux

package voter

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of <sys/socket.h>: a msghdr and the length
// the kernel sent or received.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// mmsg calls recvmmsg or sendmmsg on one IPv4 UDP socket with headers, I/O
// vectors and socket addresses allocated once: a call allocates nothing
// (golang.org/x/net/ipv4's ReadBatch allocates a *net.UDPAddr and its IP
// for every datagram read).
type mmsg struct {
	rc    syscall.RawConn
	hs    []mmsghdr
	iov   []unix.Iovec
	sa    []unix.RawSockaddrInet4
	count int // messages passed to the call
	got   int
	errno syscall.Errno
	recvF func(uintptr) bool // bound once: a method value allocates
	sendF func(uintptr) bool
}

func newMMsg(c *net.UDPConn, n int) (*mmsg, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	m := &mmsg{rc: rc, hs: make([]mmsghdr, n), iov: make([]unix.Iovec, n), sa: make([]unix.RawSockaddrInet4, n)}
	for i := range m.hs {
		m.hs[i].hdr.Name = (*byte)(unsafe.Pointer(&m.sa[i]))
		m.hs[i].hdr.Iov = &m.iov[i]
		m.hs[i].hdr.SetIovlen(1)
	}
	m.recvF, m.sendF = m.recvmmsg, m.sendmmsg
	return m, nil
}

func (m *mmsg) recvmmsg(fd uintptr) bool { return m.call(fd, unix.SYS_RECVMMSG) }
func (m *mmsg) sendmmsg(fd uintptr) bool { return m.call(fd, unix.SYS_SENDMMSG) }

// call makes the system call; false asks the poller to wait until the
// socket is ready (EAGAIN). The socket is non-blocking, so the call never
// waits in the kernel: RawSyscall6 skips the scheduler's bookkeeping for a
// blocking call (entersyscall, which also wakes the runtime's monitor
// thread), a measurable share of the relay's CPU at 20,000 packets/s.
func (m *mmsg) call(fd, trap uintptr) bool {
	for {
		r, _, e := unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&m.hs[0])), uintptr(m.count), 0, 0, 0)
		switch e {
		case 0:
			m.got, m.errno = int(r), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		m.got, m.errno = 0, e
		return true
	}
}

func (m *mmsg) err(op string) error {
	if m.errno == 0 {
		return nil
	}
	return os.NewSyscallError(op, m.errno)
}

// batchReader reads up to len(bufs) datagrams per call, each with the
// kernel's receive time (SO_TIMESTAMPNS) in its control buffer.
type batchReader struct {
	m    *mmsg
	bufs [][]byte
	ctl  []byte // one control buffer of ctlLen bytes per datagram
}

// ctlLen is the room for one SCM_TIMESTAMPNS control message.
var ctlLen = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))

func newBatchReader(c *net.UDPConn, n, size int) (*batchReader, error) {
	m, err := newMMsg(c, n)
	if err != nil {
		return nil, err
	}
	r := &batchReader{m: m, bufs: make([][]byte, n), ctl: make([]byte, n*ctlLen)}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, size)
		m.iov[i].Base = &r.bufs[i][0]
		m.iov[i].SetLen(size)
		m.hs[i].hdr.Control = &r.ctl[i*ctlLen]
	}
	// Without time stamps stamp reports none; reading goes on.
	_ = m.rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	})
	return r, nil
}

// stamp is the time the kernel received datagram i of the last read (zero
// when it gave none): how late the datagram itself was, apart from how
// long it then waited in the socket for this process.
func (r *batchReader) stamp(i int) time.Time {
	h := &r.m.hs[i].hdr
	if int(h.Controllen) < unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
		return time.Time{}
	}
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&r.ctl[i*ctlLen]))
	if cm.Level != unix.SOL_SOCKET || cm.Type != unix.SCM_TIMESTAMPNS {
		return time.Time{}
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&r.ctl[i*ctlLen+unix.CmsgLen(0)]))
	return time.Unix(ts.Unix())
}

// read waits for datagrams and returns how many it read; msg gives each.
func (r *batchReader) read() (int, error) {
	m := r.m
	for i := range m.hs {
		m.hs[i].hdr.Namelen = unix.SizeofSockaddrInet4
		m.hs[i].hdr.Flags = 0
		m.hs[i].hdr.SetControllen(ctlLen)
		m.hs[i].n = 0
	}
	m.count = len(m.hs)
	if err := m.rc.Read(m.recvF); err != nil {
		return 0, err
	}
	return m.got, m.err("recvmmsg")
}

// msg is datagram i of the last read and its source (invalid when the
// source was not IPv4).
func (r *batchReader) msg(i int) ([]byte, netip.AddrPort) {
	h := &r.m.hs[i]
	sa := &r.m.sa[i]
	var from netip.AddrPort
	if h.hdr.Namelen >= unix.SizeofSockaddrInet4 && sa.Family == unix.AF_INET {
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return r.bufs[i][:h.n], from
}

// batchWriter sends datagrams with sendmmsg.
type batchWriter struct{ m *mmsg }

func newBatchWriter(c *net.UDPConn, n int) (*batchWriter, error) {
	m, err := newMMsg(c, n)
	if err != nil {
		return nil, err
	}
	return &batchWriter{m: m}, nil
}

// write sends bufs[i] to to[i], as many as the kernel takes in one call
// (at least one unless it fails), and returns how many it sent. An
// address that is not IPv4 fails the call with EAFNOSUPPORT.
func (w *batchWriter) write(bufs [][]byte, to []netip.AddrPort) (int, error) {
	m := w.m
	n := min(len(bufs), len(m.hs))
	for i := 0; i < n; i++ {
		a := to[i].Addr().Unmap()
		if !a.Is4() {
			if i == 0 {
				return 0, os.NewSyscallError("sendmmsg", unix.EAFNOSUPPORT)
			}
			n = i // send those before it; the next call fails on it
			break
		}
		sa := &m.sa[i]
		sa.Family = unix.AF_INET
		sa.Addr = a.As4()
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(to[i].Port()>>8), byte(to[i].Port())
		h := &m.hs[i]
		h.hdr.Namelen = unix.SizeofSockaddrInet4
		h.hdr.Flags = 0
		h.n = 0
		if len(bufs[i]) == 0 {
			m.iov[i].Base = nil
		} else {
			m.iov[i].Base = &bufs[i][0]
		}
		m.iov[i].SetLen(len(bufs[i]))
	}
	m.count = n
	if err := m.rc.Write(m.sendF); err != nil {
		return 0, err
	}
	return m.got, m.err("sendmmsg")
}

// connWriter sends datagrams on a connected UDP socket with one write
// system call each, through RawSyscall as mmsg.call does (the socket is
// non-blocking): the simulator sends 50,000 a second at 1,000 clients, and
// the runtime's blocking-call bookkeeping was a visible share of it.
type connWriter struct {
	rc    syscall.RawConn
	b     []byte
	errno syscall.Errno
	f     func(uintptr) bool // bound once: a method value allocates
}

func newConnWriter(c *net.UDPConn) (*connWriter, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &connWriter{rc: rc}
	w.f = w.call
	return w, nil
}

// write sends b (not empty) to the socket's peer.
func (w *connWriter) write(b []byte) error {
	w.b = b
	err := w.rc.Write(w.f)
	w.b = nil
	if err != nil {
		return err
	}
	if w.errno != 0 {
		return os.NewSyscallError("write", w.errno)
	}
	return nil
}

func (w *connWriter) call(fd uintptr) bool {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&w.b[0])), uintptr(len(w.b)))
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		w.errno = e
		return true
	}
}
