package peer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

const testSecret = "correct horse battery staple"

// recorder collects a node's events and messages for assertions.
type recorder struct {
	mu     sync.Mutex
	events []Event
	msgs   []string
	ch     chan Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan Event, 256)} }

func (r *recorder) onEvent(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.ch <- e:
	default:
	}
}

func (r *recorder) onMessage(typ byte, b []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(rune(typ))+string(b))
	r.mu.Unlock()
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// waitState waits for an event with state s and returns it.
func (r *recorder) waitState(t *testing.T, s State) Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-r.ch:
			if e.State == s {
				return e
			}
		case <-deadline:
			t.Fatalf("no %v event within 5s; events: %+v", s, r.snapshot())
		}
	}
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func (r *recorder) sawState(s State) bool {
	for _, e := range r.snapshot() {
		if e.State == s {
			return true
		}
	}
	return false
}

func hello(id, mode string) func() Hello {
	return func() Hello { return Hello{NodeID: id, Mode: mode, Version: "test"} }
}

// startNode runs a node until the test ends.
func startNode(t *testing.T, cfg *Config, opts Options) (*Node, *recorder) {
	t.Helper()
	return startNodeWith(t, cfg, opts, nil)
}

// startNodeWith is startNode with a hook that adjusts the node before it
// runs.
func startNodeWith(t *testing.T, cfg *Config, opts Options, setup func(*Node)) (*Node, *recorder) {
	t.Helper()
	rec := newRecorder()
	opts.OnEvent = rec.onEvent
	if opts.OnMessage == nil {
		opts.OnMessage = rec.onMessage
	}
	n, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-n.Ready()
	return n, rec
}

// listener starts a listening node on 127.0.0.1:0.
func listener(t *testing.T, cfg *Config, opts Options) (*Node, *recorder) {
	opts.Listen = "127.0.0.1:0"
	if opts.Hello == nil {
		opts.Hello = hello("master-1", "master")
	}
	return startNode(t, cfg, opts)
}

func dialer(t *testing.T, cfg *Config, addr string, opts Options) (*Node, *recorder) {
	opts.Dial = addr
	if opts.Hello == nil {
		opts.Hello = hello("backup-1", "backup")
	}
	return startNode(t, cfg, opts)
}

func captureLog() (*slog.Logger, *testutil.Buffer) {
	b := &testutil.Buffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// rawConn dials addr from the local IP src ("" for any) for tests that
// speak the wire protocol by hand; it is closed when the test ends.
func rawConn(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if src != "" {
			t.Skipf("cannot dial from %s (Linux routes 127/8 to lo): %v", src, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendFrame writes one unkeyed frame.
func sendFrame(t *testing.T, c net.Conn, typ byte, parts ...[]byte) {
	t.Helper()
	w := newFrameWriter(c)
	if err := w.writeFrame(typ, parts...); err != nil {
		t.Fatal(err)
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
}

// waitClosed waits until the other end closes c (EOF or reset), reading
// and discarding what it sends.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the node did not close the connection within 5s")
		}
	}
}

// isOpen reports whether the other end still holds c open.
func isOpen(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err == nil || (errors.As(err, &ne) && ne.Timeout())
}
