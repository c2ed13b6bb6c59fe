// Command pages serves "status=OK" status pages for the ddns scale
// benchmark on N loopback addresses (127.0.0.1 .. 127.0.0.N, free ports),
// prints one URL a line, then serves until stdin closes. Running the pages
// in their own process keeps their CPU out of redund's figure.
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
)

func main() {
	n := flag.Int("n", 8, "number of listeners")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("status=OK\n"))
	})
	out := bufio.NewWriter(os.Stdout)
	for i := 1; i <= *n; i++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i))
		if err != nil {
			log.Fatal(err)
		}
		go func() { log.Print(http.Serve(ln, h)) }()
		fmt.Fprintf(out, "http://%s/status\n", ln.Addr())
	}
	fmt.Fprintln(out, "ready")
	if err := out.Flush(); err != nil {
		log.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // exit when the parent goes away
}
