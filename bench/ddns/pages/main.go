// Command pages serves "status=OK" status pages for the ddns scale
// benchmarks, prints one URL a line and "ready", then serves until stdin
// closes. Running the pages in their own process keeps their CPU out of
// the figures of the process measured. GET /__count on any listener
// returns the number of status requests served so far (by this process).
//
// It raises its open-file limit (RLIMIT_NOFILE) as far as it may: the
// soft limit to the hard one, and both to nofileWanted when the process
// may raise the hard limit (root), so that the pages are not what runs out
// of descriptors in a benchmark. Connections are kept alive (HTTP/1.1
// default) when the client asks. Several processes (-first) spread the
// connections over more descriptor tables and more accept queues.
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
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
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
	var count atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/__count", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strconv.FormatInt(count.Load(), 10)))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		count.Add(1)
		_, _ = w.Write([]byte("status=OK\n"))
	})
	out := bufio.NewWriter(os.Stdout)
	port := 0
	for i := *first; i < *first+*n; i++ {
		addr := fmt.Sprintf("127.0.%d.%d:0", i/250, i%250+1)
		if *same {
			addr = fmt.Sprintf("127.1.%d.%d:%d", i/250, i%250+1, port)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		if *same && port == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		srv := &http.Server{Handler: mux} // keepalive on, no idle timeout: a kept probe connection stays
		go func() { log.Print(srv.Serve(ln)) }()
		fmt.Fprintf(out, "http://%s/status\n", ln.Addr())
	}
	fmt.Fprintln(out, "ready")
	if err := out.Flush(); err != nil {
		log.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // exit when the parent goes away
}
