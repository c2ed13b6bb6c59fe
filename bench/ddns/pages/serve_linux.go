package main

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// conn is the state of one accepted connection between events.
type conn struct {
	in      []byte // the start of a request not yet whole
	out     []byte // response bytes the socket did not take yet
	closing bool   // close once out is written
}

// loop is one epoll instance serving listeners and their connections.
type loop struct {
	ep        int
	listeners map[int]bool
	conns     []*conn // by file descriptor
	rbuf      []byte
	wbuf      []byte
}

// serve listens on addrs (port 0: a free one; sameport: the first one's
// for all) and answers them from one epoll loop on a thread of its own.
func serve(addrs []netip.AddrPort, sameport bool) ([]netip.AddrPort, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &loop{ep: ep, listeners: map[int]bool{}, rbuf: make([]byte, 64<<10)}
	backlog := somaxconn()
	var out []netip.AddrPort
	port := uint16(0)
	for _, a := range addrs {
		if sameport {
			a = netip.AddrPortFrom(a.Addr(), port)
		}
		fd, got, err := listen(a, backlog)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		if sameport && port == 0 {
			port = got.Port()
		}
		out = append(out, got)
		l.listeners[fd] = true
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
			return nil, err
		}
	}
	go l.run()
	return out, nil
}

// somaxconn is the kernel's cap on a listener's accept queue.
func somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if n, err2 := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && err2 == nil && n > 0 {
		return n
	}
	return syscall.SOMAXCONN
}

// listen opens a non-blocking TCP listener on a.
func listen(a netip.AddrPort, backlog int) (int, netip.AddrPort, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, a, err
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}); err != nil {
		syscall.Close(fd)
		return -1, a, err
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		syscall.Close(fd)
		return -1, a, err
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return -1, a, err
	}
	in := sa.(*syscall.SockaddrInet4)
	return fd, netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port)), nil
}

// run waits for events and handles them, for ever.
func (l *loop) run() {
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(l.ep, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			panic(err)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			switch {
			case l.listeners[fd]:
				l.accept(fd)
			case ev.Events&syscall.EPOLLOUT != 0 && ev.Events&(syscall.EPOLLERR|syscall.EPOLLHUP) == 0:
				l.flush(fd)
			default:
				l.read(fd)
			}
		}
	}
}

// accept takes every connection waiting on the listener fd.
func (l *loop) accept(lfd int) {
	for {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or out of descriptors: the client's probe times out
		}
		if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
			syscall.Close(fd)
			continue
		}
		for fd >= len(l.conns) {
			l.conns = append(l.conns, make([]*conn, len(l.conns)+1024)...)
		}
		l.conns[fd] = &conn{}
	}
}

// read reads what fd has, answers every whole request in it and writes
// the answers.
func (l *loop) read(fd int) {
	c := l.conns[fd]
	if c == nil {
		return
	}
	n, err := syscall.Read(fd, l.rbuf)
	if err == syscall.EAGAIN {
		return
	}
	if err != nil || n == 0 {
		l.close(fd)
		return
	}
	in := l.rbuf[:n]
	if len(c.in) > 0 {
		c.in = append(c.in, in...)
		in = c.in
	}
	used, out, closing := answer(in, l.wbuf[:0])
	l.wbuf = out
	rest := in[used:]
	if len(rest) == 0 {
		c.in = c.in[:0]
	} else {
		c.in = append(c.in[:0], rest...)
	}
	c.closing = closing
	if len(c.out) > 0 { // still writing earlier answers
		c.out = append(c.out, out...)
		return
	}
	l.write(fd, c, out)
}

// write writes out to fd, keeping what the socket does not take for
// EPOLLOUT.
func (l *loop) write(fd int, c *conn, out []byte) {
	for len(out) > 0 {
		n, err := syscall.Write(fd, out)
		if err == syscall.EAGAIN {
			c.out = append(c.out[:0], out...)
			_ = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_MOD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP, Fd: int32(fd)})
			return
		}
		if err != nil {
			l.close(fd)
			return
		}
		out = out[n:]
	}
	if c.closing {
		l.close(fd)
	}
}

// flush writes what was left of fd's answers.
func (l *loop) flush(fd int) {
	c := l.conns[fd]
	if c == nil {
		return
	}
	out := c.out
	c.out = nil
	_ = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_MOD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)})
	l.write(fd, c, out)
}

func (l *loop) close(fd int) {
	l.conns[fd] = nil
	syscall.Close(fd) // removes it from the epoll set
}
