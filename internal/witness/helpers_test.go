package witness

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs a witness for node on endpoints until the test ends.
func start(t *testing.T, node string, endpoints []string, ttl time.Duration) *Witness {
	t.Helper()
	w, err := New(Config{Endpoints: endpoints, Name: node, TTL: config.Duration(ttl)}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		w.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w
}

func testLog(t *testing.T) *slog.Logger {
	if os.Getenv("WITNESS_TEST_LOG") == "" {
		return logging.Discard()
	}
	l, _ := logging.New(os.Stderr, "debug", "text", nil)
	return l
}

func lock(t *testing.T, w *Witness, name string) *Lock {
	t.Helper()
	l, err := w.Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// next waits for l's next event, which must be of kind.
func next(t *testing.T, l *Lock, kind EventKind, timeout time.Duration) Event {
	t.Helper()
	select {
	case ev, ok := <-l.Events():
		if !ok {
			t.Fatalf("%s: events closed, want %s", l.Name(), kind)
		}
		if ev.Kind != kind {
			t.Fatalf("%s: got %s (%s), want %s", l.Name(), ev.Kind, ev.Reason, kind)
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("%s: no %s event within %s", l.Name(), kind, timeout)
	}
	return Event{}
}

// quiet checks that l reports nothing for d.
func quiet(t *testing.T, l *Lock, d time.Duration) {
	t.Helper()
	select {
	case ev := <-l.Events():
		t.Fatalf("%s: unexpected %s (fence %d, %s)", l.Name(), ev.Kind, ev.Fence, ev.Reason)
	case <-time.After(d):
	}
}

// direct is a plain etcd client for checks from outside the witness.
func direct(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// leaseOf is w's current lease id.
func leaseOf(t *testing.T, w *Witness) int64 {
	t.Helper()
	id, err := strconv.ParseInt(w.Status().Lease, 16, 64)
	if err != nil {
		t.Fatalf("lease %q: %v", w.Status().Lease, err)
	}
	return id
}

// watchDelete reports when etcd deletes key (as this process sees it).
func watchDelete(t *testing.T, cli *clientv3.Client, key string) <-chan time.Time {
	t.Helper()
	resp, err := cli.Get(context.Background(), key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("key %s: %v, %v", key, resp, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wch := cli.Watch(ctx, key, clientv3.WithRev(resp.Header.Revision+1))
	out := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for wr := range wch {
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					out <- time.Now()
					return
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return out
}
