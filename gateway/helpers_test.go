package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/peer"
)

const testSecret = "gateway test secret 0123456789"

// gw is one in-process node.
type gw struct {
	*Gateway
	cfg    Config
	cancel context.CancelFunc
	done   chan struct{}
	ring   *logging.Ring
}

// stop stops the node and waits for Run to return (stores closed).
func (n *gw) stop() {
	n.cancel()
	<-n.done
}

func baseCfg(t *testing.T, mode Mode, dir string) Config {
	return Config{NodeID: mode.String() + "-node", Mode: mode, DataDir: dir,
		FailoverTimeout: config.Duration(500 * time.Millisecond), JoinWait: config.Duration(300 * time.Millisecond),
		Link: peer.Config{Secret: testSecret}}
}

// startGW runs a node until the test ends; ln is the master's peer listener.
func startGW(t *testing.T, cfg Config, ln net.Listener) *gw {
	t.Helper()
	return startGWWith(t, cfg, Options{PeerListener: ln})
}

// startGWWith is startGW with more options (the log is the test's).
func startGWWith(t *testing.T, cfg Config, opts Options) *gw {
	t.Helper()
	ring := logging.NewRing(100)
	log, _ := logging.New(io.Discard, "info", "text", ring)
	opts.Log, opts.Ring = log, ring
	if opts.Version == "" {
		opts.Version = "1.0.0"
	}
	g, err := New(&cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &gw{Gateway: g, cfg: cfg, cancel: cancel, done: make(chan struct{}), ring: ring}
	go func() { defer close(n.done); _ = g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-n.done
	})
	return n
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the same port again after a restart
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(20 * time.Millisecond) // sleep: retry interval: the port is taken again after a restart
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// pair starts a master (alone first, so it is active) and a backup.
func pair(t *testing.T, mod func(m, b *Config)) (*gw, *gw, string) {
	t.Helper()
	dir := t.TempDir()
	mc, bc := baseCfg(t, ModeMaster, filepath.Join(dir, "m")), baseCfg(t, ModeBackup, filepath.Join(dir, "b"))
	ln := listen(t, "127.0.0.1:0")
	bc.Peer = ln.Addr().String()
	if mod != nil {
		mod(&mc, &bc)
	}
	m := startGW(t, mc, ln)
	waitRole(t, m, RoleActive, 5*time.Second)
	b := startGW(t, bc, nil)
	waitRole(t, b, RoleStandby, 5*time.Second)
	return m, b, ln.Addr().String()
}

func waitRole(t *testing.T, n *gw, role Role, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for n.Role() != role {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s, not %s, after %v; events: %+v", n.cfg.NodeID, n.Role(), role, within, n.Detail().Events)
		}
		time.Sleep(2 * time.Millisecond) // sleep: poll interval (the failure lists the events)
	}
	return time.Since(start)
}

func docValue(t *testing.T, n *gw, prov, key string) string {
	it, ok, err := n.GetDoc(prov, key)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "<missing>"
	}
	return string(it.Value)
}

// proxy is a TCP link between the backup and the master that a test can cut.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{ln: listen(t, "127.0.0.1:0"), target: target}
	go p.serve()
	t.Cleanup(func() { p.ln.Close(); p.setCut(true) })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go pipe(c, u)
		go pipe(u, c)
	}
}

func pipe(a, b net.Conn) {
	_, err := io.Copy(a, b)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		_ = err
	}
	a.Close()
	b.Close()
}

// setCut cuts (closing every open connection) or heals the link.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}
