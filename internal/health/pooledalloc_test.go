package health

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// maxPooledProbeAllocs bounds the allocations of one pooled keepalive
// probe (the prober's only: the server below allocates nothing per
// request). Measured when written: 0 (no context, no timer: probeCtx);
// with a timeout context, an AfterFunc and a new LimitedReader per probe,
// 12. One is allowed for a sync.Pool refill after a collection.
const maxPooledProbeAllocs = 1

// TestPooledKeepAliveProbeAllocs: a keepalive probe on a kept connection
// of a Probes' pool makes no context and registers nothing on one (the
// pool's context closes the connection when the Probes stop; the timeout
// is the connection's deadline). At 30,000 probes a second the allocations
// of the timeout context and AfterFunc per probe set off the garbage
// collections under which probes went late (issue 15).
func TestPooledKeepAliveProbeAllocs(t *testing.T) {
	addr := rawKeepAliveServer(t)
	pool := newConnPool()
	defer pool.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool.setContext(ctx)
	ck, err := newChecker(Config{Kind: "http", URL: "http://" + addr + "/", MustHave: "status=OK", KeepAlive: true,
		Timeout: config.Duration(time.Second)}, pool)
	if err != nil {
		t.Fatal(err)
	}
	probe := func() {
		if r := ck.Check(ctx); !r.OK {
			t.Fatalf("probe failed: %s", r.Reason)
		}
	}
	probe() // dials
	got := testing.AllocsPerRun(200, probe)
	t.Logf("%.1f allocations per probe", got)
	if got > maxPooledProbeAllocs {
		t.Errorf("a pooled keepalive probe allocates %.1f times, want at most %d", got, maxPooledProbeAllocs)
	}
}

// rawKeepAliveServer answers every request on every connection with the
// same keep-alive "status=OK" page, reading into a fixed buffer: it
// allocates nothing per request, so AllocsPerRun counts the prober's.
func rawKeepAliveServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	page := []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nstatus=OK\n")
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 4096)
				var have []byte
				for {
					n, err := c.Read(buf[len(have):])
					if err != nil {
						return
					}
					have = buf[:len(have)+n]
					for {
						i := bytes.Index(have, []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						if _, err := c.Write(page); err != nil {
							return
						}
						have = buf[:copy(buf, have[i+4:])]
					}
				}
			})
		}
	})
	return ln.Addr().String()
}
