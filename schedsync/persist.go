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
	Role  Role   `json:"role"`
	Epoch uint64 `json:"epoch"`
	Mode  Mode   `json:"mode,omitempty"` // the configured mode when the role was saved
}

// roleOf is the role a mode starts in.
func roleOf(mode Mode) Role {
	if mode == ModePrimary {
		return RolePrimary
	}
	return RoleSecondary
}

// loadState restores role and epoch and the secondary's expected tree.
//
// Which role: the saved one, as long as mode is what it was when the role
// was saved. It records a promotion or a demotion, which a restart must
// not undo (a promoted node would go back to following a stale primary,
// a demoted old primary would come back as a second primary). A mode
// changed in the config since is the operator's newer decision and wins:
// the node starts in that mode's role, as if promoted or demoted then.
func (n *Node) loadState() error {
	n.role = roleOf(n.cfg.Mode)
	b, err := n.w.root.ReadFile(stateFile)
	var s persistedState
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("schedsync: %w", err)
	default:
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("schedsync: %s: %w", stateFile, err)
		}
	}
	n.epoch = s.Epoch
	n.app = newApplier(n)
	if b, err := n.w.root.ReadFile(expectedFile); err == nil {
		if batch, err := decodeBatch(bytes.NewReader(b)); err == nil {
			n.app.restore(batch)
		} else {
			n.log.Warn("ignoring unreadable expected tree; the next sync compares everything", "err", err)
		}
	}
	if err := n.settleRole(s); err != nil {
		return err
	}
	n.metrics.epoch.Set(float64(n.epoch))
	if note := n.roleNote(); note != "" {
		n.log.Warn("the role differs from the configured mode", "mode", n.cfg.Mode, "role", n.role, "why", note)
	}
	return nil
}

// settleRole applies the saved role s (see loadState) and saves the
// outcome with the configured mode.
func (n *Node) settleRole(s persistedState) error {
	if s.Role != RolePrimary && s.Role != RoleSecondary {
		return nil // nothing saved yet: the mode decides
	}
	if s.Mode == "" || s.Mode == n.cfg.Mode {
		n.role = s.Role
		if s.Mode == "" {
			return n.saveState() // written by an older version: record the mode now
		}
		return nil
	}
	n.log.Warn("mode changed in the config since the role was saved: the configured mode wins",
		"saved_mode", s.Mode, "saved_role", s.Role, "mode", n.cfg.Mode, "role", n.role)
	switch {
	case s.Role == RolePrimary && n.role == RoleSecondary:
		n.app.forget() // as on demotion: what differs from the primary is moved aside, not lost
	case s.Role == RoleSecondary && n.role == RolePrimary:
		n.epoch++ // as on promotion: newer than the primary this node followed
	}
	return n.saveState()
}

// roleNote explains a role that is not the configured mode's ("" when
// they agree).
func (n *Node) roleNote() string {
	if n.role == roleOf(n.cfg.Mode) {
		return ""
	}
	how, back := "demoted", "promote"
	if n.role == RolePrimary {
		how, back = "promoted", "demote"
	}
	return fmt.Sprintf("configured %s, but %s since it was %s (saved in %s; the saved role wins while mode is unchanged: "+
		"run `redund schedsync %s` to go back, or change mode)", n.cfg.Mode, n.role, how, stateFile, back)
}

// saveState writes state.json atomically and durably. Saves are one at a
// time (n.saveMu), so that an older snapshot of the role never lands after
// a newer one. A failure is shown in the status (health "state") until a
// save succeeds; persistLoop tries again every second.
func (n *Node) saveState() error {
	n.saveMu.Lock()
	defer n.saveMu.Unlock()
	n.mu.Lock()
	s := persistedState{Role: n.role, Epoch: n.epoch, Mode: n.cfg.Mode}
	n.mu.Unlock()
	b, _ := json.MarshalIndent(s, "", "  ")
	err := n.writeStateFile(stateFile, b)
	n.mu.Lock()
	n.stateErr = ""
	if err != nil {
		n.stateErr = fmt.Sprintf("cannot save %s (role %s, epoch %d): %v: a restart would start in the role saved before",
			stateFile, s.Role, s.Epoch, err)
	}
	n.mu.Unlock()
	return err
}

// retryState saves state.json again after a save failed.
func (n *Node) retryState() {
	n.mu.Lock()
	failed := n.stateErr != ""
	n.mu.Unlock()
	if failed && n.saveState() == nil {
		n.log.Info("state saved again", "file", stateFile)
	}
}

func (n *Node) writeStateFile(name string, data []byte) error {
	if err := n.w.root.MkdirAll(path.Dir(name), 0o700); err != nil {
		return err
	}
	t, err := n.w.create(name+".tmp", true) // its directory was just made
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
	if err := n.w.install(t.rel, name, true); err != nil {
		_ = n.w.root.Remove(t.rel) // gone already when the rename happened
		return err
	}
	return nil
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
			n.retryState()
		case r := <-n.pings.persist.Pings():
			close(r)
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
