package netlimit

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveHTTP runs HTTPServer(h) on a capped loopback listener until the
// test ends, with bodyTimeout shortened to grace.
func serveHTTP(t *testing.T, grace time.Duration, h http.Handler) string {
	t.Helper()
	old := bodyTimeout
	bodyTimeout = grace
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := HTTPServer(h, nil)
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(Wrap(raw, Limits{Total: 8, PerSrc: 4})) }()
	t.Cleanup(func() { _ = hs.Close(); <-done; bodyTimeout = old })
	return raw.Addr().String()
}

// The attack: a client announces a body and never sends it. net/http
// reads up to 256 KiB of a body the handler left unread before it
// answers, with no deadline after the headers, so even a request the
// server refuses at once (the admin guard's 421, a 404) held its
// connection for as long as the client liked: 256 such connections from
// four addresses filled an admin listener for good (the operator's own
// GET was reset). Now the body has BodyTimeout, then BodyMinRate.
func TestStalledBodyLosesItsConnection(t *testing.T) {
	addr := serveHTTP(t, 300*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "refused", http.StatusMisdirectedRequest) // the body is never read
	}))
	c := dialFrom(t, "127.0.0.2", addr)
	fmt.Fprintf(c, "POST /v1/x HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 100\r\n\r\n")
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection was still open 5 s after a 300 ms body deadline")
	}
	t.Logf("closed after %v", time.Since(start))
}

// An upload slower than the grace period but faster than BodyMinRate is
// read to the end, and an answer that takes longer than the grace after
// the body is neither cancelled nor cut.
func TestSteadyUploadAndLongAnswerPass(t *testing.T) {
	const grace = 300 * time.Millisecond
	addr := serveHTTP(t, grace, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(3 * grace):
		}
		fmt.Fprintf(w, "%d\n", n)
	}))
	c := dialFrom(t, "127.0.0.3", addr)
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1500\r\n\r\n")
	for range 3 { // 500 bytes every 200 ms: 600 ms in all, twice the grace
		time.Sleep(200 * time.Millisecond) // sleep: a slow client: the pacing is the subject
		if _, err := c.Write([]byte(strings.Repeat("x", 500))); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "1500\n" {
		t.Fatalf("%d %q, want 200 1500", resp.StatusCode, body)
	}
}
