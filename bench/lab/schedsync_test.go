package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const schedsyncConf = `[admin]
schedsync = "127.0.0.1:9184"

[schedsync]
mode = "{{.Mode}}"
dir = "{{.Dir}}"
listen = "0.0.0.0:8470"
peer = "http://{{.Peer}}:8470"
secret = "lab-pair-secret-0123456789abcdef"
node_id = "{{.Node}}"
failover_offset = "{{.Offset}}"
peer_timeout = "1s"
scan_interval = "30s"
`

// schedsyncOffset is failover_offset: how long the secondary-failover node
// waits without its primary before it promotes itself.
const schedsyncOffset = 3 * time.Second

// syncNode is one node of the schedsync pair.
type syncNode struct {
	ns   *NS
	dir  string
	name string
	cfg  string
}

func (n *syncNode) state() (role, state string) {
	d, ok := doc(n.ns, "127.0.0.1:9184", "")
	if !ok {
		return "", ""
	}
	return d.Role, d.State
}

func (n *syncNode) is(role, state string) func() bool {
	return func() bool { r, s := n.state(); return r == role && s == state }
}

// write is one file written on one node, and where it may end up.
type write struct {
	node    *syncNode
	path    string
	content []byte
}

// syncLab is the schedsync case: the pair, its link and every write made.
type syncLab struct {
	t      *testing.T
	tb     *Table
	a, b   *syncNode
	link   *Link
	writes []write
}

// labSchedsync: studio-a (primary) and studio-b (secondary-failover) in two
// namespaces. Files are written on a, the link is cut right after a write,
// b promotes itself, both sides write while cut off (some to the same
// files), the link heals, the pair reports two primaries, the operator's
// resync demotes the older epoch, and every write must still exist with its
// content: in b's tree (the surviving primary) or in a conflicts directory.
func labSchedsync(t *testing.T, tb *Table) {
	l := newSyncLab(t, tb)
	a, b := l.a, l.b
	if !l.row("start: a primary, b secondary-failover", "b holds a synced copy", 15*time.Second, b.is("secondary", "Synced")) {
		return
	}
	for i := 1; i <= 5; i++ {
		l.put(a, fmt.Sprintf("playlists/day%d.txt", i), fmt.Sprintf("day %d: 08:00 news, 08:05 music\n", i))
	}
	if !l.row("write 5 files on a", "they are on b, same content, b Synced", 10*time.Second,
		func() bool { return hasAll(b, l.writes...) && b.is("secondary", "Synced")() }) {
		return
	}
	if l.blip() && l.partition() && l.resolve() {
		l.verify()
	}
}

// blip cuts the link for less than failover_offset while a writes: b must
// not promote itself, and the write must arrive once the link is back.
func (l *syncLab) blip() bool {
	var w write
	seen := func() string { r, s := l.b.state(); return "b: " + r + " " + s }
	if !hold(l.t, l.tb, "schedsync", seen, Step{"cut the link for 1s (less than failover_offset), write on a meanwhile",
		"b does not promote itself (checked for failover_offset + 1s)", func() {
			l.link.Blip(l.t, l.a.ns, time.Second)
			w = l.put(l.a, "playlists/blip.txt", "written on a during a 1 s cut\n")
		}, schedsyncOffset + time.Second, func() bool { r, _ := l.b.state(); return r != "primary" }}) {
		return false
	}
	return l.row("after the 1s cut", "the file written during it is on b, b Synced", 10*time.Second,
		func() bool { return hasAll(l.b, w) && l.b.is("secondary", "Synced")() })
}

func newSyncLab(t *testing.T, tb *Table) *syncLab {
	tmp := t.TempDir()
	nsA, nsB := newNS(t, "s-a"), newNS(t, "s-b")
	l := &syncLab{t: t, tb: tb, link: newLink(t, nsA, "to-b", nsB, "to-a"),
		a: &syncNode{ns: nsA, dir: filepath.Join(tmp, "studio-a"), name: "studio-a"},
		b: &syncNode{ns: nsB, dir: filepath.Join(tmp, "studio-b"), name: "studio-b"}}
	for _, n := range []struct {
		node       *syncNode
		mode, peer string
	}{{l.a, "primary", l.link.Addr(nsB)}, {l.b, "secondary-failover", l.link.Addr(nsA)}} {
		if err := os.MkdirAll(n.node.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		n.node.cfg = writeConfig(t, tmp, n.node.name+".toml", schedsyncConf, map[string]string{
			"Mode": n.mode, "Dir": n.node.dir, "Peer": n.peer, "Node": n.node.name, "Offset": schedsyncOffset.String()})
		start(t, n.node.ns, tmp, "schedsync-"+n.node.name, "--config", n.node.cfg, "schedsync", "run")
	}
	return l
}

// put writes a file on node n and remembers the write.
func (l *syncLab) put(n *syncNode, path, content string) write {
	l.t.Helper()
	p := filepath.Join(n.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	w := write{n, path, []byte(content)}
	l.writes = append(l.writes, w)
	return w
}

// row waits for cond and records the promise; on failure it notes both
// nodes' role and state.
func (l *syncLab) row(fault, promise string, limit time.Duration, cond func() bool) bool {
	took, ok := waitFor(limit, cond)
	note := ""
	if !ok {
		ra, sa := l.a.state()
		rb, sb := l.b.state()
		note = fmt.Sprintf("a: %s %s, b: %s %s", ra, sa, rb, sb)
	}
	return check(l.t, l.tb, Row{Scheme: "schedsync", Fault: fault, Promise: promise, Limit: limit, Took: took, Kept: ok, Note: note})
}

// partition cuts the link right after a write on a, waits for b's
// promotion, writes on both sides and heals: two primaries.
func (l *syncLab) partition() bool {
	t, a, b := l.t, l.a, l.b
	l.put(a, "playlists/edge.txt", "written on a just before the cut\n")
	l.link.Cut(t, a.ns)
	cut := time.Now()
	if !l.row("cut the link right after a write on a", "b promotes itself after failover_offset (3s)",
		schedsyncOffset+3*time.Second, func() bool { r, _ := b.state(); return r == "primary" }) {
		return false
	}
	if early := time.Since(cut); early < schedsyncOffset-time.Second {
		return check(t, l.tb, Row{Scheme: "schedsync", Fault: "cut", Promise: "b does not promote before failover_offset",
			Took: early, Note: "promoted too early"})
	}
	l.put(a, "playlists/a-only.txt", "new on a while cut off\n")
	l.put(a, "playlists/day1.txt", "day 1 changed on a while cut off\n")
	aDay3 := l.put(a, "playlists/day3.txt", "day 3 changed on a while cut off\n")
	l.put(b, "playlists/b-only.txt", "new on b after its promotion\n")
	l.put(b, "playlists/day2.txt", "day 2 changed on b after its promotion\n")
	bDay3 := l.put(b, "playlists/day3.txt", "day 3 changed on b after its promotion\n")
	l.link.Heal(t)
	if !l.row("heal the link (two primaries)", "both report Incompatible", 10*time.Second,
		func() bool { return a.is("primary", "Incompatible")() && b.is("primary", "Incompatible")() }) {
		return false
	}
	return check(t, l.tb, Row{Scheme: "schedsync", Fault: "two primaries", Promise: "neither overwrote the other's day3.txt",
		Kept: hasAll(a, aDay3) && hasAll(b, bDay3)})
}

// resolve is the operator's `redund schedsync resync` on a: the older
// epoch (a) is demoted and follows b.
func (l *syncLab) resolve() bool {
	if _, err := run(context.Background(), l.a.ns, "--config", l.a.cfg, "schedsync", "resync"); err != nil {
		return check(l.t, l.tb, Row{Scheme: "schedsync", Fault: "operator: `schedsync resync` on a", Promise: "the older epoch is demoted", Note: err.Error()})
	}
	return l.row("operator: `schedsync resync` on a", "a (older epoch) is demoted and follows b: Synced", 15*time.Second,
		func() bool { return l.a.is("secondary", "Synced")() && l.b.is("primary", "Synced")() })
}

// verify: no write lost, and the two trees are equal.
func (l *syncLab) verify() {
	lost, inConflicts := lostWrites(l.a, l.b, l.writes)
	note := fmt.Sprintf("%d found only in a conflicts dir", inConflicts)
	if len(lost) > 0 {
		note = "lost: " + strings.Join(lost, "; ")
	}
	check(l.t, l.tb, Row{Scheme: "schedsync", Fault: "after the partition", Kept: len(lost) == 0,
		Promise: fmt.Sprintf("no write lost: each node's last write to each path (%d writes) is in the pair's trees or a conflicts dir with its content", len(l.writes)),
		Note:    note})
	diff := treeDiff(l.a.dir, l.b.dir)
	check(l.t, l.tb, Row{Scheme: "schedsync", Fault: "after the partition", Kept: diff == "",
		Promise: "a's tree equals b's (outside .redund)", Note: diff})
}

// hasAll reports whether every write is in n's tree with its content.
func hasAll(n *syncNode, ws ...write) bool {
	for _, w := range ws {
		b, err := os.ReadFile(filepath.Join(n.dir, w.path))
		if err != nil || !bytes.Equal(b, w.content) {
			return false
		}
	}
	return true
}

// lostWrites returns the writes found nowhere: not in b's tree, a's tree,
// or either conflicts directory (.redund/conflicts/<time>/<path>), and how
// many were found in a conflicts directory only. A write that its own node
// overwrote later is superseded, not lost: only each node's last write to a
// path is looked for.
func lostWrites(a, b *syncNode, ws []write) (lost []string, inConflicts int) {
	for i, w := range ws {
		if superseded(ws, i) {
			continue
		}
		trees := []string{filepath.Join(b.dir, w.path), filepath.Join(a.dir, w.path)}
		var conflicts []string
		for _, n := range []*syncNode{a, b} {
			m, _ := filepath.Glob(filepath.Join(n.dir, ".redund", "conflicts", "*", w.path))
			conflicts = append(conflicts, m...)
		}
		switch {
		case anyHas(trees, w.content):
		case anyHas(conflicts, w.content):
			inConflicts++
		default:
			lost = append(lost, fmt.Sprintf("%s written on %s (%q)", w.path, w.node.name, w.content))
		}
	}
	return lost, inConflicts
}

func superseded(ws []write, i int) bool {
	for _, later := range ws[i+1:] {
		if later.node == ws[i].node && later.path == ws[i].path {
			return true
		}
	}
	return false
}

// anyHas reports whether one of the files has exactly content.
func anyHas(paths []string, content []byte) bool {
	for _, p := range paths {
		if got, err := os.ReadFile(p); err == nil && bytes.Equal(got, content) {
			return true
		}
	}
	return false
}

// treeDiff compares two directories' regular files outside .redund.
func treeDiff(x, y string) string {
	fx, fy := files(x), files(y)
	var d []string
	for p, c := range fx {
		if cy, ok := fy[p]; !ok || cy != c {
			d = append(d, p)
		}
	}
	for p := range fy {
		if _, ok := fx[p]; !ok {
			d = append(d, p)
		}
	}
	if len(d) == 0 {
		return ""
	}
	return "differ: " + strings.Join(d, ", ")
}

func files(root string) map[string]string {
	m := map[string]string{}
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if e.IsDir() && rel == ".redund" {
			return filepath.SkipDir
		}
		if e.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			m[rel] = string(b)
		}
		return nil
	})
	return m
}
