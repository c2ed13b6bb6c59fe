package witness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// waitValues reads ch until a set equal to want arrives.
func waitValues(t *testing.T, ch <-chan WatchUpdate, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	last := "(nothing)"
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed, want %s", want)
			}
			if u.Err != nil {
				last = "error: " + u.Err.Error()
				continue
			}
			if last = show(u.Values); last == want {
				return
			}
		case <-deadline:
			t.Fatalf("watch: want %s within %s, last %s", want, timeout, last)
		}
	}
}

func show(vals []Value) string {
	s := ""
	for _, v := range vals {
		s += fmt.Sprintf("%s=%s ", v.Node, v.Value)
	}
	return s
}

// Each node's published value is there while its lease lives: it goes
// when the node is cut off (the lease expires on etcd), comes back on the
// next lease, and goes at once when the node stops.
func TestPublishValuesWithTheLease(t *testing.T) {
	c := etcdtest.Start(t, 3)
	relays := c.Relayed(t)
	viaRelay := relays.URLs()
	a := start(t, "a", viaRelay, ttl)
	b := start(t, "b", c.Endpoints(), ttl)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Watch(ctx, "view")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Publish("view", "up"); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish("view", "down"); err != nil {
		t.Fatal(err)
	}
	waitValues(t, ch, "a=up b=down ", 5*time.Second)
	a.Publish("view", "down")
	waitValues(t, ch, "a=down b=down ", 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "a's latest value in etcd", func() bool { return a.Publication("view").InEtcd })
	vals, err := a.Values(ctx, "view")
	if err != nil || show(vals) != "a=down b=down " {
		t.Fatalf("Values = %s, %v", show(vals), err)
	}

	relays.Cut()
	waitValues(t, ch, "b=down ", 3*ttl) // a's lease expired on etcd
	a.Publish("view", "up")             // while cut: not in etcd
	testutil.Eventually(t, 3*ttl, "a to know its value is not in etcd", func() bool {
		p := a.Publication("view")
		return !p.InEtcd && !p.Since.IsZero()
	})
	relays.Heal()
	waitValues(t, ch, "a=up b=down ", 5*ttl) // written again on a's new lease
	testutil.Eventually(t, 5*time.Second, "a's value in etcd again", func() bool { return a.Publication("view").InEtcd })

	b.Unpublish("view")
	waitValues(t, ch, "a=up ", 5*time.Second)
	a.Close()
	waitValues(t, ch, "", ttl/2) // revoked with the lease at once
	cancel()
	for range ch { // closed when ctx ends
	}
	if _, err := a.Values(context.Background(), "view"); err != ErrClosed {
		t.Errorf("Values after Close: %v, want ErrClosed", err)
	}
}

// A watch cut off from etcd (no byte passes, nothing is closed) says so
// within about the TTL, and sends the values again once etcd answers.
func TestWatchReportsACut(t *testing.T) {
	c := etcdtest.Start(t, 3)
	relays := c.Relayed(t)
	viaRelay := relays.URLs()
	a := start(t, "a", viaRelay, ttl)
	b := start(t, "b", c.Endpoints(), ttl)
	ch, err := a.Watch(t.Context(), "view")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish("view", "up"); err != nil {
		t.Fatal(err)
	}
	waitValues(t, ch, "b=up ", 5*time.Second)
	relays.Cut()
	deadline := time.After(5 * ttl)
	for down := false; !down; {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatal("watch closed, want an error")
			}
			if u.Err != nil {
				down = true
				if !strings.Contains(u.Err.Error(), "watch of view") {
					t.Errorf("error %q does not name the watch", u.Err)
				}
			}
		case <-deadline:
			t.Fatalf("no error within %s of the cut", 5*ttl)
		}
	}
	relays.Heal()
	b.Publish("view", "down")
	waitValues(t, ch, "b=down ", 5*ttl)
}
