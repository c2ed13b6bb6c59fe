package health

import (
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stampArrivals asks the kernel to stamp each segment that arrives on tcp
// with its receive time (SO_TIMESTAMPNS), for arrivedBy. Without it
// arrivedBy finds no time and a late read stays a timeout.
func stampArrivals(c syscall.Conn) {
	stampEarly()
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	})
}

// keepStamping opens, once, the socket that holds receive times on.
var keepStamping sync.Once

// stampEarly turns the kernel's stamping on for good, once. The kernel
// turns it on a moment after it is asked (in a work item): a Probes asks
// when it is made, so that even the answers to its first probes have times.
func stampEarly() { keepStamping.Do(holdStamping) }

// holdStamping keeps one socket with SO_TIMESTAMPNS open for the life of
// the process. The kernel turns its stamping of arriving packets on when
// the first socket asks for it and off when the last one that did closes;
// each turn rewrites kernel code on every CPU. With a connection per probe
// that turned it on and off at every probe: a probe took twice as long
// (BenchmarkHTTPProbe 260-310 against 125-136 us). Held on, a connection's
// setsockopt only counts one more user.
func holdStamping() {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) != nil {
		_ = unix.Close(fd)
	}
	// fd stays open: the process holds it until it exits
}

// peekLimit is the most arrivedBy looks at: the head and the part of a
// body a probe reads fit (max_bytes is at most this).
const peekLimit = DefaultMaxBytes

// arrivedBy returns how many bytes wait unread in c's socket that the
// kernel had received by deadline, and when the last of them came: all it
// peeks at (up to peekLimit), when the last of them arrived by then, else
// 0. TCP gives the time of the last segment a read takes from, so one time
// covers every byte before it; on a UDP socket it is the next datagram. It
// does not wait and reads nothing away.
func arrivedBy(c syscall.Conn, deadline time.Time) (n int, last time.Time) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, time.Time{}
	}
	// Control, not Read: Read refuses at once once the deadline has passed
	_ = rc.Control(func(fd uintptr) {
		waiting, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		if err != nil || waiting <= 0 {
			return
		}
		p := getBody(min(waiting, peekLimit))
		defer putBody(p)
		buf := (*p)[:min(waiting, peekLimit, cap(*p))]
		var oob [64]byte
		k, oobn, _, _, err := unix.Recvmsg(int(fd), buf, oob[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err != nil || k <= 0 {
			return
		}
		if at, ok := receiveTime(oob[:oobn]); ok && !at.After(deadline) {
			n, last = k, at
		}
	})
	return n, last
}

// receiveTime finds the SCM_TIMESTAMPNS message in a control buffer.
func receiveTime(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS &&
			len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix()), true
		}
	}
	return time.Time{}, false
}
