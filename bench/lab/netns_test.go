package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nsPrefix starts the name of every namespace the lab creates; the PID that
// follows makes names unique per run and lets a later run remove what a
// killed run left behind.
const nsPrefix = "redund-lab-"

// subnet is the lab's private /24: it exists only inside the namespaces the
// lab creates; each link gets the next /30 of it.
const subnet = "10.231.0."

var linkSeq atomic.Int32

// NS is one network namespace made by the lab.
type NS struct {
	Name string
}

// newNS creates a namespace named after the run's PID and tag, brings its
// loopback up, and deletes it in t.Cleanup (registered first, so processes
// started in it later are killed before it goes).
func newNS(t *testing.T, tag string) *NS {
	t.Helper()
	n := &NS{Name: fmt.Sprintf("%s%d-%s", nsPrefix, os.Getpid(), tag)}
	mustIP(t, "netns", "add", n.Name)
	t.Cleanup(func() {
		if out, err := ipCmd("netns", "del", n.Name); err != nil {
			t.Errorf("cleanup: ip netns del %s: %v: %s", n.Name, err, out)
		}
	})
	mustIP(t, "-n", n.Name, "link", "set", "lo", "up")
	return n
}

// Link is a veth pair between two namespaces, with one /30 address on each end.
type Link struct {
	A, B         *NS
	DevA, DevB   string
	AddrA, AddrB string // without the prefix length
}

// newLink joins a and b with a veth pair named devA (in a) and devB (in b).
func newLink(t *testing.T, a *NS, devA string, b *NS, devB string) *Link {
	t.Helper()
	i := linkSeq.Add(1) - 1
	if i >= 63 {
		t.Fatal("lab: out of /30 subnets in " + subnet + "0/24")
	}
	l := &Link{A: a, B: b, DevA: devA, DevB: devB,
		AddrA: subnet + strconv.Itoa(int(4*i+1)), AddrB: subnet + strconv.Itoa(int(4*i+2))}
	mustIP(t, "link", "add", devA, "netns", a.Name, "type", "veth", "peer", "name", devB, "netns", b.Name)
	mustIP(t, "-n", a.Name, "addr", "add", l.AddrA+"/30", "dev", devA)
	mustIP(t, "-n", b.Name, "addr", "add", l.AddrB+"/30", "dev", devB)
	l.Heal(t)
	return l
}

// Cut takes the link down at ns's end (the other end loses carrier and
// drops what it sends: silence, as a cable cut elsewhere looks).
func (l *Link) Cut(t *testing.T, ns *NS) {
	t.Helper()
	mustIP(t, "-n", ns.Name, "link", "set", l.dev(ns), "down")
}

// Blip cuts the link at ns's end for d, then heals it (in the
// background: the caller checks the promise meanwhile). A failed heal is
// reported with t.Errorf.
func (l *Link) Blip(t *testing.T, ns *NS, d time.Duration) {
	t.Helper()
	l.Cut(t, ns)
	time.AfterFunc(d, func() {
		if out, err := ipCmd("-n", ns.Name, "link", "set", l.dev(ns), "up"); err != nil {
			t.Errorf("lab: heal after a blip: %v: %s", err, out)
		}
	})
}

// Heal brings both ends up and removes any drop qdisc.
func (l *Link) Heal(t *testing.T) {
	t.Helper()
	for _, ns := range []*NS{l.A, l.B} {
		_, _ = tcCmd("-n", ns.Name, "qdisc", "del", "dev", l.dev(ns), "root")
		mustIP(t, "-n", ns.Name, "link", "set", l.dev(ns), "up")
	}
}

// DropFrom drops every packet ns sends on the link (a one-way failure: the
// other direction still works). A pfifo queue of length 0 is used because
// netem is not available on every kernel.
func (l *Link) DropFrom(t *testing.T, ns *NS) {
	t.Helper()
	if out, err := tcCmd("-n", ns.Name, "qdisc", "replace", "dev", l.dev(ns), "root", "pfifo", "limit", "0"); err != nil {
		t.Fatalf("lab: tc qdisc pfifo limit 0 on %s: %v: %s", l.dev(ns), err, out)
	}
}

func (l *Link) dev(ns *NS) string {
	if ns == l.A {
		return l.DevA
	}
	return l.DevB
}

// Addr is ns's address on the link.
func (l *Link) Addr(ns *NS) string {
	if ns == l.A {
		return l.AddrA
	}
	return l.AddrB
}

func ipCmd(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func tcCmd(args ...string) (string, error) {
	out, err := exec.Command("tc", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := ipCmd(args...); err != nil {
		t.Fatalf("lab: ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Do runs fn on an OS thread that has entered the namespace, so sockets fn
// creates belong to it (the goroutine's thread is switched back afterwards,
// or thrown away if that fails).
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restore, err := n.enter()
		if err != nil {
			errc <- err
			return // the thread stays locked and is discarded with the goroutine
		}
		err = fn()
		if restore() == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// enter switches the calling (locked) thread into n and returns the switch
// back. A process started from the thread meanwhile is born inside n.
func (n *NS) enter() (restore func() error, err error) {
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, err
	}
	target, err := os.Open("/run/netns/" + n.Name)
	if err != nil {
		orig.Close()
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		orig.Close()
		return nil, fmt.Errorf("lab: setns %s: %w", n.Name, err)
	}
	return func() error {
		defer orig.Close()
		return unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET)
	}, nil
}

// Here runs fn on the calling goroutine with its thread inside the
// namespace, for code that must run on the test goroutine (t.Fatal) and
// whose sockets and child processes must be in the namespace, such as
// bindtest.Start.
func (n *NS) Here(t *testing.T, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	restore, err := n.enter()
	if err != nil {
		runtime.UnlockOSThread() // enter failed before or at the switch: the thread is unchanged
		t.Fatal(err)
	}
	defer func() {
		if restore() == nil {
			runtime.UnlockOSThread()
		} // else the thread stays locked and ends with the goroutine
	}()
	fn()
}

// DialContext dials addr from inside the namespace.
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a TCP listener inside the namespace.
func (n *NS) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// HTTP is a client whose connections are made inside the namespace.
func (n *NS) HTTP(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy: nil, DisableKeepAlives: true, DialContext: n.DialContext}}
}

// sweepStale deletes namespaces that a killed earlier run left behind: only
// names with the lab's prefix whose PID is no longer running.
func sweepStale() {
	out, err := ipCmd("netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || unix.Kill(pid, 0) == nil {
			continue
		}
		_, _ = ipCmd("netns", "del", name)
	}
}
