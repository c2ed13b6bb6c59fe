package gateway

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProxyErrorsThrottled: an application answer that breaks off while
// the client listener forwards it makes the reverse proxy write an error
// line of its own. Those went to the process's standard logger (stderr),
// one per request, however many a client made; they now go to the node's
// log, one per interval.
func TestProxyErrorsThrottled(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close() // the answer breaks off
		}
	}))
	t.Cleanup(app.Close)
	var std bytes.Buffer
	was := log.Writer()
	log.SetOutput(&std)
	t.Cleanup(func() { log.SetOutput(was) })
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir(), AppURL: app.URL}, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	h, err := n.ClientHandler()
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	t.Cleanup(front.Close)
	const requests = 20
	for range requests {
		resp, err := http.Get(front.URL + "/x")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	log.SetOutput(was)
	if strings.Contains(std.String(), "ReverseProxy") {
		t.Fatalf("the proxy wrote to the standard logger:\n%s", std.String())
	}
	lines := 0
	for _, e := range n.ring.Events() {
		if strings.Contains(e.Message, "forwarding the application's answer failed") {
			lines++
		}
	}
	if lines != 1 {
		t.Fatalf("%d lines in the node's log for %d broken answers, want 1", lines, requests)
	}
}
