package ddns

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// page is an HTTP server whose page says status=OK or status=ERR, like the
// status pages okerr's "HTTP grep" checks read.
type page struct {
	srv  *httptest.Server
	ok   atomic.Bool
	flap atomic.Bool // when set, answers alternate OK / ERR per request
	hits atomic.Int64
}

func newPage(t *testing.T, ok bool) *page {
	p := &page{}
	p.ok.Store(ok)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.hits.Add(1)
		good := p.ok.Load()
		if p.flap.Load() {
			good = n%2 == 0
		}
		if good {
			fmt.Fprintln(w, "status=OK")
		} else {
			fmt.Fprintln(w, "status=ERR")
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *page) check() *health.Config {
	return &health.Config{Kind: "http", URL: p.srv.URL + "/status", MustHave: "status=OK",
		Timeout: config.Duration(time.Second)}
}

// memProvider is a provider in memory that counts pushes and can fail.
type memProvider struct {
	mu      sync.Mutex
	value   []string
	sets    []string
	failSet int   // fail this many Set calls
	failGet int   // fail this many Get calls
	err     error // the error to fail with
}

func (p *memProvider) Name() string { return "mem" }

func (p *memProvider) Get(_ context.Context, _, _ string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failGet > 0 {
		p.failGet--
		return nil, p.err
	}
	return append([]string(nil), p.value...), nil
}

func (p *memProvider) Set(_ context.Context, r dnsupdate.Record) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failSet > 0 {
		p.failSet--
		return "", p.err
	}
	p.value = []string{r.Value}
	p.sets = append(p.sets, r.Value)
	return "good " + r.Value, nil
}

func (p *memProvider) current() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.value) != 1 {
		return fmt.Sprint(p.value)
	}
	return p.value[0]
}

func (p *memProvider) pushes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.sets...)
}

// catConfig is okerr's "cat" example on local pages: main (30), backup
// (20), sorry (10), 50 ms interval, rise 2, fall 2.
func catConfig(t *testing.T, main, backup, sorry *page) *Config {
	return &Config{
		Name: "cat.example.test", Type: "A", TTL: 60, Interval: config.Duration(50 * time.Millisecond),
		Rise: 2, Fall: 2, RetryMin: config.Duration(50 * time.Millisecond), RetryMax: config.Duration(200 * time.Millisecond),
		StateDir: t.TempDir(),
		Provider: dnsupdate.Config{Kind: "he", Password: "x"},
		Servers: []Server{
			{Name: "main", Address: "192.0.2.1", Priority: 30, Check: main.check()},
			{Name: "backup", Address: "192.0.2.2", Priority: 20, Check: backup.check()},
			{Name: "sorry", Address: "192.0.2.3", Priority: 10, Check: sorry.check()},
		},
	}
}

// startDaemon runs a daemon of one scheme "cat" with provider p.
func startDaemon(t *testing.T, c *Config, p dnsupdate.Provider) *Daemon {
	d, err := New(map[string]*Config{"cat": c}, Options{Provider: func(string, *Config) (dnsupdate.Provider, error) { return p, nil }})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	return d
}

// runDaemon runs d until the test ends.
func runDaemon(t *testing.T, d *Daemon) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
}
