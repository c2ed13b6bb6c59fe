package schedsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"
)

// The node's own state lives in <dir>/.redund/ (never synced):
// state.json (role and epoch) and expected.bin (the tree the secondary
// last wrote, with the primary's log ID and sequence; a manifest batch).
const (
	stateFile    = stateDirName + "/state.json"
	expectedFile = stateDirName + "/expected.bin"
)

type persistedState struct {
	Role  string `json:"role"`
	Epoch uint64 `json:"epoch"`
}

// loadState restores role and epoch (the mode decides on first start) and
// the secondary's expected tree.
func (n *Node) loadState() error {
	n.role = RoleSecondary
	if n.cfg.Mode == ModePrimary {
		n.role = RolePrimary
	}
	b, err := n.w.root.ReadFile(stateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("schedsync: %w", err)
	default:
		var s persistedState
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("schedsync: %s: %w", stateFile, err)
		}
		if s.Role == RolePrimary || s.Role == RoleSecondary {
			n.role = s.Role
		}
		n.epoch = s.Epoch
	}
	n.metrics.epoch.Set(float64(n.epoch))
	n.app = newApplier(n)
	if b, err := n.w.root.ReadFile(expectedFile); err == nil {
		if batch, err := decodeBatch(bytes.NewReader(b)); err == nil {
			n.app.restore(batch)
		} else {
			n.log.Warn("ignoring unreadable expected tree; the next sync compares everything", "err", err)
		}
	}
	return nil
}

// saveState writes state.json atomically and durably.
func (n *Node) saveState() error {
	n.mu.Lock()
	s := persistedState{Role: n.role, Epoch: n.epoch}
	n.mu.Unlock()
	b, _ := json.MarshalIndent(s, "", "  ")
	return n.writeStateFile(stateFile, b)
}

func (n *Node) writeStateFile(name string, data []byte) error {
	if err := n.w.root.MkdirAll(path.Dir(name), 0o700); err != nil {
		return err
	}
	t, err := n.w.create(name + ".tmp")
	if err != nil {
		return err
	}
	if _, err := t.Write(data); err != nil {
		n.w.discard(t)
		return err
	}
	if err := t.Sync(); err != nil {
		n.w.discard(t)
		return err
	}
	_ = t.Close()
	return n.w.install(t.rel, name, true)
}

// persistLoop saves the expected tree at most once a second while it
// changes, and once more at the end.
func (n *Node) persistLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			n.saveExpected()
			return
		case <-tick.C:
			n.saveExpected()
		}
	}
}

func (n *Node) saveExpected() {
	batch, dirty := n.app.takeDirty()
	if !dirty {
		return
	}
	var buf bytes.Buffer
	if err := encodeBatch(&buf, batch); err == nil {
		if err := n.writeStateFile(expectedFile, buf.Bytes()); err != nil {
			n.log.Warn("cannot save the expected tree", "err", err)
			n.app.markDirty()
		}
	}
}
