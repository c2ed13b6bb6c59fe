// Command pages serves "status=OK" status pages for the ddns benchmarks,
// prints one URL a line and "ready", then serves until stdin closes.
// Running the pages in their own process keeps their CPU out of the
// figures of the process measured. GET /__count on any listener returns
// the number of status requests served so far (by this process).
//
// The pages stand in for servers that would be on other hosts, so they
// are made cheap: on Linux one thread per process answers every listener
// and connection from one epoll loop, a read and a write per request (see
// serve_linux.go), instead of net/http's goroutine per connection. Each
// request is still parsed (request line, header fields, Connection and
// Content-Length; see answer): /status answers "status=OK" and is counted,
// other paths 404. Connections are kept alive (HTTP/1.1 default) unless the
// client asks to close. The accept backlog is the kernel's maximum
// (net.core.somaxconn).
//
// It raises its open-file limit (RLIMIT_NOFILE) as far as it may: the
// soft limit to the hard one, and both to nofileWanted when the process
// may raise the hard limit (root), so that the pages are not what runs out
// of descriptors in a benchmark. Several processes (-first) spread the
// connections over more descriptor tables, accept queues and threads.
//
//	pages -n 8              8 listeners, 127.0.0.1 .. 127.0.0.8, free ports
//	pages -n 8 -first 8     8 listeners, 127.0.0.9 .. 127.0.0.16
//	pages -n 3000 -sameport 3000 listeners on 127.1.x.y, all on one port
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"syscall"
)

// nofileWanted is the open-file limit the pages ask for: more than the
// connections of 10,000 names × 3 servers.
const nofileWanted = 1 << 17

// raiseNofile raises RLIMIT_NOFILE as far as allowed and returns it.
func raiseNofile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Max < nofileWanted {
		up := syscall.Rlimit{Cur: nofileWanted, Max: nofileWanted}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			return up.Cur
		}
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

func main() {
	n := flag.Int("n", 8, "number of listeners")
	same := flag.Bool("sameport", false, "all listeners on one port, addresses 127.1.x.y")
	first := flag.Int("first", 0, "number of the first listener (its address)")
	flag.Parse()
	log.Printf("pages: open-file limit %d", raiseNofile())
	var addrs []netip.AddrPort
	for i := *first; i < *first+*n; i++ {
		a := netip.AddrFrom4([4]byte{127, 0, byte(i / 250), byte(i%250 + 1)})
		if *same {
			a = netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)})
		}
		addrs = append(addrs, netip.AddrPortFrom(a, 0))
	}
	bound, err := serve(addrs, *same)
	if err != nil {
		log.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	for _, a := range bound {
		fmt.Fprintf(out, "http://%s/status\n", a)
	}
	fmt.Fprintln(out, "ready")
	if err := out.Flush(); err != nil {
		log.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // exit when the parent goes away
}
