package peer

import (
	"context"
	"sync"
	"testing"
	"time"
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
	rec := newRecorder()
	opts.OnEvent = rec.onEvent
	if opts.OnMessage == nil {
		opts.OnMessage = rec.onMessage
	}
	n, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
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
