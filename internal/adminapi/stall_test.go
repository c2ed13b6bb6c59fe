//go:build linux

package adminapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/netlimit"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

// A client that asks for an answer and never reads it (a receive window
// that stays shut costs it nothing) held its connection, and the handler's
// goroutine, for ever: 64 such connections per address, from four
// addresses, would take the listener for good. An answer that makes no
// progress for the write stall bound (netlimit) is cut and the connection closed.
func TestAdminCutsClientThatDoesNotRead(t *testing.T) {
	t.Cleanup(netlimit.SetWriteStall(300 * time.Millisecond))
	big := status.SourceFunc(func() []status.Document { // a report of about 8 MB
		docs := make([]status.Document, 2000)
		for i := range docs {
			docs[i] = status.Document{Instance: fmt.Sprint(i), Scheme: "x", Reason: strings.Repeat("r", 4000)}
		}
		return docs
	})
	s, base := startServer(t, big)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.DialContext(context.Background(), "tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	ln := s.ln.(*netlimit.Listener)
	testutil.Eventually(t, 5*time.Second, "the server takes the connection", func() bool { return ln.Open() == 1 })
	testutil.Eventually(t, 10*time.Second, "the server closes the connection of a client that reads nothing",
		func() bool { return ln.Open() == 0 })

	// a slow reader that keeps reading gets the whole answer, though it
	// takes longer than the bound (it is on each write; with the
	// kernel's buffers, a write waits for about a megabyte to be read)
	t.Cleanup(netlimit.SetWriteStall(time.Second))
	resp, err := http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	start, buf := time.Now(), make([]byte, 256<<10)
	for {
		m, err := io.ReadFull(resp.Body, buf)
		got.Write(buf[:m])
		if err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // sleep: a reader slower than the network, not a readiness wait
	}
	size := got.Len()
	if rep, err := status.Decode(&got); err != nil || len(rep.Instances) != 2000 {
		t.Fatalf("a slow reader, after %v and %d bytes: %d instances, %v", time.Since(start), size, len(rep.Instances), err)
	}
	if time.Since(start) < 2*time.Second {
		t.Logf("the slow read took %v only: it did not test the bound", time.Since(start))
	}
}
