package netlimit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// shortStall sets the write stall bound to d for one test.
func shortStall(t *testing.T, d time.Duration) {
	t.Helper()
	old := writeStall.Swap(int64(d))
	t.Cleanup(func() { writeStall.Store(old) })
}

// A client that asks for a large answer and never reads it lost nothing
// but held the connection and the handler's goroutine for ever (the
// gateway's client listener: a proxy answer, and the backend connection
// behind it). Now a write that makes no progress for WriteStall fails,
// whether the handler writes the answer or copies it from a file
// (net/http's sendfile path).
func TestAnswerNotReadIsCut(t *testing.T) {
	shortStall(t, 300*time.Millisecond)
	file := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(file, bytes.Repeat([]byte("x"), 32<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter) error
	}{
		{"write", func(w http.ResponseWriter) error {
			_, err := w.Write(bytes.Repeat([]byte("x"), 32<<20))
			return err
		}},
		{"sendfile, limited", func(w http.ResponseWriter) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			w.Header().Set("Content-Length", "33554431")
			_, err = io.CopyN(w, f, 33554431)
			return err
		}},
		{"sendfile", func(w http.ResponseWriter) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			w.Header().Set("Content-Length", "33554432")
			_, err = io.Copy(w, f)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			addr := serveHTTP(t, BodyTimeout, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				done <- tc.write(w)
			}))
			c := dialFrom(t, "127.0.0.4", addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") // and never read
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("32 MiB written to a client that reads nothing")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the write was still blocked 10 s after a 300 ms stall bound")
			}
		})
	}
}

// A client that reads slowly but steadily gets the whole answer, though
// it takes many times the stall bound; so does a streamed answer with
// pauses longer than the bound between its writes.
func TestSlowReaderAndPausesPass(t *testing.T) {
	const stall = 300 * time.Millisecond
	shortStall(t, stall)
	const size = 1 << 20
	file := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(file, bytes.Repeat([]byte("y"), 2*size), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := serveHTTP(t, BodyTimeout, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				http.NewResponseController(w).Flush()
				time.Sleep(2 * stall) // sleep: a pause longer than the bound is the subject
			}
			return
		}
		if r.URL.Path == "/file" { // io.CopyN: the limited sendfile path
			f, err := os.Open(file)
			if err == nil {
				defer f.Close()
				w.Header().Set("Content-Length", fmt.Sprint(size-1))
				_, _ = io.CopyN(w, f, size-1)
			}
			return
		}
		_, _ = w.Write(bytes.Repeat([]byte("x"), size))
	}))
	c := dialFrom(t, "127.0.0.5", addr)
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var got int
	buf := make([]byte, 64<<10)
	for {
		time.Sleep(50 * time.Millisecond) // sleep: a slow reader: the pacing is the subject
		n, err := resp.Body.Read(buf)
		got += n
		if err != nil {
			break
		}
	}
	if got != size {
		t.Fatalf("slow reader got %d of %d bytes in %v", got, size, time.Since(start))
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "part 0\npart 1\npart 2\n" {
		t.Fatalf("stream: %q, %v", b, err)
	}
	resp, err = http.Get("http://" + addr + "/file")
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != size-1 || b[0] != 'y' {
		t.Fatalf("io.CopyN of a file: %d bytes, %v", len(b), err)
	}
}
