package health

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// TestPooledTimeoutKeepsConnection: a pooled keepalive probe whose deadline
// passes before the answer begins keeps its connection; the next probe
// reads and discards the late answer, then gets its own on the same
// connection. Before, the timeout closed the connection and the next probe
// dialled: under a CPU shortage that spiralled (issue 15). An answer that
// has not begun when the next probe comes makes that probe dial, as before.
func TestPooledTimeoutKeepsConnection(t *testing.T) {
	for _, c := range []struct {
		name     string
		handler  http.HandlerFunc
		method   string
		answers  bool // the late answer comes before the next probe's deadline
		wantOK   bool // the next probe's result (always true: it never waits for another's answer)
		wantConn int  // connections opened by three probes
	}{
		{"late answer skipped", statusOK, "", true, true, 1},
		{"late chunked answer skipped", statusChunked, "", true, true, 1},
		{"late HEAD answer skipped", statusOK, "HEAD", true, true, 1},
		{"no answer yet: the next probe dials", statusOK, "", false, true, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			var n atomic.Int32
			s := newConnServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					select { // the first answer comes after its probe gave up, or never
					case <-release:
					case <-r.Context().Done():
						return
					}
				}
				c.handler(w, r)
			}))
			defer close(release)
			pool := newConnPool()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pool.setContext(ctx)
			defer pool.close()
			cfg := Config{Kind: "http", URL: s.URL + "/", Method: c.method, KeepAlive: true, Timeout: config.Duration(time.Minute)}
			cfg.SetDefaults()
			h, err := newHTTP(cfg, pool)
			if err != nil {
				t.Fatal(err)
			}
			probe := func(timeout time.Duration) (bool, string) {
				return h.probeUntil(context.Background(), time.Now().Add(timeout))
			}
			if ok, _ := probe(50 * time.Millisecond); ok {
				t.Fatal("the first probe succeeded although its answer was held")
			}
			if c.answers {
				release <- struct{}{}
				testutil.Eventually(t, waitLimit, "the late answer to reach the kept connection", func() bool {
					pool.mu.Lock()
					defer pool.mu.Unlock()
					idle := pool.hosts[h.key].idle
					return len(idle) == 1 && idle[0].owed != "" && idle[0].owedArrived()
				})
			}
			if ok, reason := probe(time.Minute); ok != c.wantOK {
				t.Fatalf("the next probe: ok %v (%s), want %v", ok, reason, c.wantOK)
			}
			if ok, reason := probe(time.Minute); !ok {
				t.Fatalf("the third probe: %s", reason)
			}
			if opened, _ := s.counts(); opened != c.wantConn {
				t.Errorf("three probes opened %d connections, want %d", opened, c.wantConn)
			}
		})
	}
}
