package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const gatewayConf = `[admin]
gateway = "127.0.0.1:9183"

[gateway]
node_id = "{{.Node}}"
mode = "{{.Mode}}"
{{if .Peer}}peer = "{{.Peer}}:8088"{{else}}peer_listen = "0.0.0.0:8088"{{end}}
failover_timeout = "{{.Failover}}"
join_wait = "3s"
recovery = "automatic"
history = "partial"
data_dir = "{{.Dir}}"

[gateway.link]
secret = "lab-gateway-secret-0123456789"
`

// gwFailover is failover_timeout: a standby becomes active after this long
// without its peer, and two active nodes that can talk again must resolve
// within it.
const gwFailover = time.Second

// gwMargin is what a takeover may take beyond failover_timeout: the role
// loop's wake-up and the status polls of a loaded machine.
const gwMargin = 750 * time.Millisecond

// gwNode is one node of the gateway pair.
type gwNode struct {
	ns   *NS
	name string
	cfg  string
	http *http.Client
}

type gwDetail struct {
	Role          string `json:"role"`
	PeerConnected bool   `json:"peer_connected"`
	History       struct {
		Cached    int   `json:"cached"`
		Forwarded int64 `json:"forwarded"`
		Dropped   int64 `json:"dropped_duplicates"`
	} `json:"history"`
}

func (n *gwNode) detail() (gwDetail, bool) {
	var d gwDetail
	resp, err := n.http.Get("http://127.0.0.1:9183/v1/gateway/status")
	if err != nil {
		return d, false
	}
	defer resp.Body.Close()
	return d, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&d) == nil
}

func (n *gwNode) role() string { d, _ := n.detail(); return d.Role }

func (n *gwNode) is(role string) func() bool { return func() bool { return n.role() == role } }

// post offers one history point; it reports whether the node acknowledged
// it (200) and whether the answer was a clean refusal (so not stored).
func (n *gwNode) post(tag string, ts int64, v float64) (acked, refused bool) {
	body, _ := json.Marshal([]map[string]any{{"tag": tag, "ts_ms": ts, "value": v}})
	resp, err := n.http.Post("http://127.0.0.1:9183/v1/gateway/history", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusConflict
}

// gwLab is the gateway case: the pair, its link, the master's process and
// the device feeding both nodes.
type gwLab struct {
	t     *testing.T
	tb    *Table
	dir   string
	m, b  *gwNode
	link  *Link
	mProc *Proc
	dev   *device
}

// labGateway: master and backup in two namespaces, history = "partial".
// A "device" offers a point every 40 ms to both nodes; a node stores it
// when it is active. Faults: the link is cut (both active, as any pair
// cut in two) and healed (two active nodes must resolve within
// failover_timeout once they talk again), only the master's packets are
// dropped and the link healed, then the master is killed and restarted
// (the backup's points must be forwarded). Promise: every acknowledged
// point is in the master's history exactly once.
func labGateway(t *testing.T, tb *Table) {
	l := newGwLab(t, tb)
	if !steps(t, tb, "gateway", l.seen, Step{"start: master and backup", "master active, backup standby", nil, 15 * time.Second, l.pairOK}) {
		return
	}
	l.dev = startDevice(l.m, l.b)
	defer l.dev.stop()
	wd := watchDual(l.m, l.b)
	defer wd.stop()
	if !steps(t, tb, "gateway", l.seen, l.faults()...) {
		return
	}
	l.dev.stop()
	gwHistory(t, tb, l.m, l.b, l.dev)
	longest := wd.stop()
	check(t, tb, Row{Scheme: "gateway", Fault: "whole run (sampled every 25 ms)",
		Promise: "two active nodes that can talk to each other for at most failover_timeout",
		Limit:   gwFailover + 250*time.Millisecond, Took: longest, Kept: longest <= gwFailover+250*time.Millisecond})
}

func newGwLab(t *testing.T, tb *Table) *gwLab {
	nsM, nsB := newNS(t, "g-master"), newNS(t, "g-backup")
	l := &gwLab{t: t, tb: tb, dir: t.TempDir(), link: newLink(t, nsM, "to-backup", nsB, "to-master"),
		m: &gwNode{ns: nsM, name: "gw-master", http: nsM.HTTP(2 * time.Second)},
		b: &gwNode{ns: nsB, name: "gw-backup", http: nsB.HTTP(2 * time.Second)}}
	for _, n := range []struct {
		node       *gwNode
		mode, peer string
	}{{l.m, "master", ""}, {l.b, "backup", l.link.Addr(nsM)}} {
		n.node.cfg = writeConfig(t, l.dir, n.node.name+".toml", gatewayConf, map[string]string{"Node": n.node.name,
			"Mode": n.mode, "Peer": n.peer, "Failover": gwFailover.String(), "Dir": filepath.Join(l.dir, n.node.name)})
	}
	l.mProc = start(t, nsM, l.dir, "gateway-master", "--config", l.m.cfg, "gateway", "run")
	start(t, nsB, l.dir, "gateway-backup", "--config", l.b.cfg, "gateway", "run")
	return l
}

// faults is the schedule after the start.
func (l *gwLab) faults() []Step {
	t, m, b, nsM := l.t, l.m, l.b, l.m.ns
	takeover := "backup active within failover_timeout (1s) + 0.75s"
	return []Step{
		{"cut the link (down at the master's end)", takeover, func() { l.link.Cut(t, nsM) }, gwFailover + gwMargin, b.is("active")},
		{"partition (both active, as any pair cut in two)", "both nodes record the device's points", func() {},
			5 * time.Second, func() bool { return l.dev.count(true, true) >= 40 }},
		{"heal the link", "the peer link comes back", func() { l.link.Heal(t) }, 10 * time.Second, l.talking},
		{"healed: two active nodes", "once they talk, two active nodes for at most failover_timeout: the master keeps control",
			nil, gwFailover + 250*time.Millisecond, l.pairOK},
		{"drop only what the master sends (one-way)", takeover, func() { l.link.DropFrom(t, nsM) }, gwFailover + gwMargin, b.is("active")},
		{"heal the one-way drop", "the peer link comes back", func() { l.link.Heal(t) }, 10 * time.Second, l.talking},
		{"healed: two active nodes", "once they talk, two active nodes for at most failover_timeout: the master keeps control",
			nil, gwFailover + 250*time.Millisecond, l.pairOK},
		{"kill -9 the master", takeover, l.mProc.kill, gwFailover + gwMargin, b.is("active")},
		{"master down", "the backup takes the device's points alone", func() {},
			5 * time.Second, func() bool { return l.dev.count(false, true) >= 10 }},
		{"restart the master (automatic recovery)", "master active, backup standby", func() {
			start(t, nsM, l.dir, "gateway-master-2", "--config", m.cfg, "gateway", "run")
		}, 15 * time.Second, l.pairOK},
	}
}

// seen describes both roles for a broken promise.
func (l *gwLab) seen() string { return fmt.Sprintf("master %q, backup %q", l.m.role(), l.b.role()) }

// pairOK: the master is active and the backup standby.
func (l *gwLab) pairOK() bool { return l.m.is("active")() && l.b.is("standby")() }

// talking: both nodes have the peer link up.
func (l *gwLab) talking() bool {
	dm, ok1 := l.m.detail()
	db, ok2 := l.b.detail()
	return ok1 && ok2 && dm.PeerConnected && db.PeerConnected
}

// dualWatch samples both nodes and keeps the longest stretch in which both
// were active while both had the peer link up.
type dualWatch struct {
	cancel  context.CancelFunc
	done    chan struct{}
	longest time.Duration
}

func watchDual(m, b *gwNode) *dualWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &dualWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var since time.Time
		for ctx.Err() == nil {
			dm, ok1 := m.detail()
			db, ok2 := b.detail()
			both := ok1 && ok2 && dm.Role == "active" && db.Role == "active" && dm.PeerConnected && db.PeerConnected
			switch {
			case both && since.IsZero():
				since = time.Now()
			case both:
				w.longest = max(w.longest, time.Since(since))
			default:
				since = time.Time{}
			}
			select {
			case <-ctx.Done():
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the longest stretch.
func (w *dualWatch) stop() time.Duration {
	w.cancel()
	<-w.done
	return w.longest
}

// gwHistory waits for the backup's cache to drain into the master, then
// checks that every acknowledged point is on the master exactly once.
func gwHistory(t *testing.T, tb *Table, m, b *gwNode, dev *device) {
	took, ok := waitFor(15*time.Second, func() bool { d, ok := b.detail(); return ok && d.History.Cached == 0 })
	check(t, tb, Row{Scheme: "gateway", Fault: "after the failovers", Promise: "the backup's cache is forwarded to the master",
		Limit: 15 * time.Second, Took: took, Kept: ok})
	var pts []struct {
		TS int64 `json:"ts_ms"`
	}
	resp, err := m.http.Get("http://127.0.0.1:9183/v1/gateway/history?tag=lab&from=0")
	if err == nil {
		err = json.NewDecoder(resp.Body).Decode(&pts)
		resp.Body.Close()
	}
	if err != nil {
		check(t, tb, Row{Scheme: "gateway", Fault: "after the failovers", Promise: "history readable on the master", Note: err.Error()})
		return
	}
	seen := map[int64]int{}
	for _, p := range pts {
		seen[p.TS]++
	}
	lost, dup, acked := 0, 0, 0
	for _, p := range dev.points() {
		if p.ackM || p.ackB {
			acked++
			if seen[p.ts] == 0 {
				lost++
			}
		}
	}
	for _, n := range seen {
		if n > 1 {
			dup++
		}
	}
	d, _ := b.detail()
	check(t, tb, Row{Scheme: "gateway", Fault: "after the failovers (history = partial)", Kept: lost == 0 && dup == 0,
		Promise: fmt.Sprintf("each of %d acknowledged points on the master exactly once", acked),
		Note: fmt.Sprintf("%d lost, %d duplicated; backup forwarded %d, dropped %d the master had",
			lost, dup, d.History.Forwarded, d.History.Dropped)})
}

// device offers a point every 40 ms to both nodes, like a PLC whose values
// every active gateway records.
type device struct {
	m, b   *gwNode
	mu     sync.Mutex
	pts    []devPoint
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

type devPoint struct {
	ts         int64
	ackM, ackB bool
}

func startDevice(m, b *gwNode) *device {
	ctx, cancel := context.WithCancel(context.Background())
	d := &device{m: m, b: b, cancel: cancel, done: make(chan struct{})}
	go d.run(ctx)
	return d
}

func (d *device) run(ctx context.Context) {
	defer close(d.done)
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	last := int64(0)
	for i := 0; ctx.Err() == nil; i++ {
		ts := max(time.Now().UnixMilli(), last+1)
		last = ts
		var p devPoint
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); p.ackM, _ = d.m.post("lab", ts, float64(i)) }()
		go func() { defer wg.Done(); p.ackB, _ = d.b.post("lab", ts, float64(i)) }()
		wg.Wait()
		p.ts = ts
		d.mu.Lock()
		d.pts = append(d.pts, p)
		d.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

func (d *device) stop() { d.once.Do(func() { d.cancel(); <-d.done }) }

func (d *device) points() []devPoint {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]devPoint(nil), d.pts...)
}

// count counts points acknowledged by exactly the given nodes.
func (d *device) count(byM, byB bool) int {
	n := 0
	for _, p := range d.points() {
		if p.ackM == byM && p.ackB == byB {
			n++
		}
	}
	return n
}
