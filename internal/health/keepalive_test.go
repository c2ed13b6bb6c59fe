package health

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// connServer is a loopback HTTP server that counts the connections it
// accepted and the ones that have closed.
type connServer struct {
	*httptest.Server
	mu             sync.Mutex
	opened, closed int
}

func newConnServer(t *testing.T, h http.Handler, configure ...func(*http.Server)) *connServer {
	s := &connServer{}
	s.Server = httptest.NewUnstartedServer(h)
	for _, f := range configure {
		f(s.Config)
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.opened++
		case http.StateClosed, http.StateHijacked:
			s.closed++
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *connServer) counts() (opened, closed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened, s.closed
}

func statusOK(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "status=OK\n") }

// statusChunked answers in chunks (no Content-Length), with a trailer.
func statusChunked(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Trailer", "X-Done")
	fmt.Fprint(w, "status=")
	w.(http.Flusher).Flush()
	fmt.Fprint(w, "OK\n")
	w.Header().Set("X-Done", "yes")
}

// TestKeepAliveReusesOneConnection: with keepalive, one TCP connection
// serves every probe (plain, chunked and HEAD answers); without it, each
// probe opens its own.
func TestKeepAliveReusesOneConnection(t *testing.T) {
	const probes = 5
	for _, c := range []struct {
		name      string
		handler   http.HandlerFunc
		method    string
		keepAlive bool
		want      int
	}{
		{"fresh", statusOK, "", false, probes},
		{"keepalive", statusOK, "", true, 1},
		{"keepalive chunked", statusChunked, "", true, 1},
		{"keepalive HEAD", statusOK, "HEAD", true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newConnServer(t, c.handler)
			cfg := Config{Kind: "http", URL: s.URL + "/", Method: c.method, KeepAlive: c.keepAlive}
			if c.method == "" {
				cfg.MustHave = "status=OK"
			}
			ck, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ck.(interface{ CloseIdle() }).CloseIdle()
			for i := range probes {
				if r := ck.Check(context.Background()); !r.OK {
					t.Fatalf("probe %d: %s", i, r.Reason)
				}
			}
			if opened, _ := s.counts(); opened != c.want {
				t.Errorf("%d probes opened %d connections, want %d", probes, opened, c.want)
			}
		})
	}
}

// TestKeepAliveAfterServerClosed: a kept connection that the server closed
// while idle is replaced by a new one; the probe still succeeds.
func TestKeepAliveAfterServerClosed(t *testing.T) {
	s := newConnServer(t, http.HandlerFunc(statusOK), func(c *http.Server) { c.IdleTimeout = 20 * time.Millisecond })
	ck, err := New(Config{Kind: "http", URL: s.URL + "/", MustHave: "status=OK", KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.(interface{ CloseIdle() }).CloseIdle()
	if r := ck.Check(context.Background()); !r.OK {
		t.Fatal(r.Reason)
	}
	testutil.Eventually(t, waitLimit, "the server to close the idle connection", func() bool { _, closed := s.counts(); return closed == 1 })
	if r := ck.Check(context.Background()); !r.OK {
		t.Fatalf("probe after the server closed the kept connection: %s", r.Reason)
	}
	if opened, _ := s.counts(); opened != 2 {
		t.Errorf("opened %d connections, want 2", opened)
	}
}

// TestKeepAliveServerSaysClose: a server that answers "Connection: close"
// gets a new connection per probe even with keepalive.
func TestKeepAliveServerSaysClose(t *testing.T) {
	s := newConnServer(t, http.HandlerFunc(statusOK), func(c *http.Server) { c.SetKeepAlivesEnabled(false) })
	ck, err := New(Config{Kind: "http", URL: s.URL + "/", KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := ck.Check(context.Background()); !r.OK {
			t.Fatal(r.Reason)
		}
	}
	if opened, _ := s.counts(); opened != 3 {
		t.Errorf("opened %d connections, want 3", opened)
	}
}

// TestMonitorClosesKeptConnection: when a monitor's Run returns, the
// connection its check kept is closed.
func TestMonitorClosesKeptConnection(t *testing.T) {
	s := newConnServer(t, http.HandlerFunc(statusOK))
	ck, err := New(Config{Kind: "http", URL: s.URL + "/", KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMonitor("kept", ck, MonitorOptions{Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	testutil.Eventually(t, waitLimit, "three probes", func() bool { return m.Snapshot().Checks >= 3 })
	cancel()
	<-done
	testutil.Eventually(t, waitLimit, "the kept connection to close", func() bool { _, closed := s.counts(); return closed == 1 })
	if opened, _ := s.counts(); opened != 1 {
		t.Errorf("opened %d connections, want 1", opened)
	}
}

// TestKeepAliveFailedProbeDropsConnection: after a failed probe (HTTP 503)
// the next probe opens a new connection.
func TestKeepAliveFailedProbeDropsConnection(t *testing.T) {
	var down atomic.Bool
	s := newConnServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		statusOK(w, r)
	}))
	ck, err := New(Config{Kind: "http", URL: s.URL + "/", KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.(interface{ CloseIdle() }).CloseIdle()
	for i, want := range []bool{true, true, false, true, true} {
		down.Store(!want)
		if r := ck.Check(context.Background()); r.OK != want {
			t.Fatalf("probe %d: OK=%v (%s), want %v", i, r.OK, r.Reason, want)
		}
	}
	if opened, _ := s.counts(); opened != 2 {
		t.Errorf("opened %d connections, want 2 (one before the failure, one after)", opened)
	}
}
