package schedsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"sync"
)

// maxLog is how many change records the primary keeps; a secondary that is
// further behind gets the full manifest instead.
const maxLog = 100_000

// changeLog is the primary's manifest plus its sequence-numbered change
// log. The log ID changes at every start, so a secondary knows when its
// sequence number means nothing any more.
type changeLog struct {
	mu      sync.Mutex
	id      string
	tree    Tree
	log     []Entry // log[i].Seq == first+i
	first   uint64  // Seq of log[0]
	seq     uint64  // last assigned
	changed chan struct{}
}

func newChangeLog(t Tree) *changeLog {
	var b [8]byte
	_, _ = rand.Read(b[:])
	if t == nil {
		t = Tree{}
	}
	return &changeLog{id: hex.EncodeToString(b[:]), tree: t, first: 1, changed: make(chan struct{})}
}

// apply records changes (new or modified entries, and deletions).
func (c *changeLog) apply(changes []Entry) {
	if len(changes) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range changes {
		c.seq++
		e.Seq = c.seq
		if e.Deleted {
			delete(c.tree, e.Path)
		} else {
			c.tree[e.Path] = e
		}
		c.log = append(c.log, e)
	}
	if over := len(c.log) - maxLog; over > 0 {
		c.log = append([]Entry(nil), c.log[over:]...)
		c.first += uint64(over)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// snapshot returns a copy of the tree and the sequence it reflects.
func (c *changeLog) snapshot() (Tree, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := make(Tree, len(c.tree))
	for k, v := range c.tree {
		t[k] = v
	}
	return t, c.seq
}

// since returns the latest record of every path changed after seq, and the
// current sequence; ok is false when seq is too old for the log.
func (c *changeLog) since(seq uint64) (out []Entry, cur uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > c.seq || seq+1 < c.first {
		return nil, c.seq, false
	}
	latest := map[string]Entry{}
	for _, e := range c.log[seq+1-c.first:] {
		latest[e.Path] = e
	}
	for _, e := range latest {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, c.seq, true
}

// wait blocks until the sequence passes seq or ctx ends.
func (c *changeLog) wait(ctx context.Context, seq uint64) {
	c.mu.Lock()
	ch, cur := c.changed, c.seq
	c.mu.Unlock()
	if cur > seq {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// entry returns the manifest entry of p.
func (c *changeLog) entry(p string) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.tree[p]
	return e, ok
}

// current returns the log ID and the last sequence number.
func (c *changeLog) current() (string, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id, c.seq
}
