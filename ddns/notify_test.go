package ddns

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestSchemeNeedsNoGoroutinePerServer: a scheme learns of its servers'
// changes through health.Monitor.Notify, not through a goroutine and a
// queue of changes per server (at 30,000 servers those queues were 75 MB
// that every garbage collection scanned, and the collections made probes
// late: issue 15). A scheme of 300 servers adds far fewer than 300
// goroutines, and still pushes when its servers' states change.
func TestSchemeNeedsNoGoroutinePerServer(t *testing.T) {
	main := newPage(t, true)
	c := catConfig(t, main, newPage(t, true), newPage(t, true))
	for i := range 297 {
		c.Servers = append(c.Servers, Server{Name: fmt.Sprintf("idle%d", i), Address: fmt.Sprintf("198.51.100.%d", i%250+1),
			Priority: 1, Check: c.Servers[2].Check})
	}
	before := runtime.NumGoroutine()
	p := &memProvider{}
	startDaemon(t, c, p)
	testutil.Eventually(t, 5*time.Second, "the first push, to main", func() bool { return p.current() == "192.0.2.1" })
	if n := runtime.NumGoroutine() - before; n >= len(c.Servers) {
		t.Errorf("running a scheme of %d servers added %d goroutines", len(c.Servers), n)
	}
	main.ok.Store(false)
	testutil.Eventually(t, 5*time.Second, "the push to backup after main fails", func() bool { return p.current() == "192.0.2.2" })
}
