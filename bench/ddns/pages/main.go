// Command pages serves "status=OK" status pages for the ddns scale
// benchmarks, prints one URL a line and "ready", then serves until stdin
// closes. Running the pages in their own process keeps their CPU out of
// the figures of the process measured. GET /__count on any listener
// returns the number of status requests served so far.
//
//	pages -n 8              8 listeners, 127.0.0.1 .. 127.0.0.8, free ports
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
)

func main() {
	n := flag.Int("n", 8, "number of listeners")
	same := flag.Bool("sameport", false, "all listeners on one port, addresses 127.1.x.y")
	flag.Parse()
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
	for i := 0; i < *n; i++ {
		addr := fmt.Sprintf("127.0.0.%d:0", i+1)
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
		go func() { log.Print(http.Serve(ln, mux)) }()
		fmt.Fprintf(out, "http://%s/status\n", ln.Addr())
	}
	fmt.Fprintln(out, "ready")
	if err := out.Flush(); err != nil {
		log.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // exit when the parent goes away
}
