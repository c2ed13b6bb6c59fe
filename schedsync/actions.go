package schedsync

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
)

// hookTimeout bounds on_promote / on_demote.
const hookTimeout = 60 * time.Second

// ErrRefused is returned by operator actions that do not apply now.
var ErrRefused = errors.New("schedsync: refused")

// Promote makes this node primary ("Make primary"): epoch + 1, on_promote.
func (n *Node) Promote(ctx context.Context) error {
	if n.Role() == RolePrimary {
		return fmt.Errorf("%w: already primary", ErrRefused)
	}
	if n.wit != nil {
		return n.promoteWithWitness(ctx)
	}
	n.promote("promoted by the operator")
	return nil
}

// Demote makes this primary a secondary that follows the peer. Files that
// differ from the new primary's are moved to .redund/conflicts, not lost.
func (n *Node) Demote(_ context.Context) error {
	if n.Role() != RolePrimary {
		return fmt.Errorf("%w: not primary", ErrRefused)
	}
	if n.cfg.Peer == "" {
		return fmt.Errorf("%w: no peer configured to follow", ErrRefused)
	}
	n.demote("demoted by the operator")
	return nil
}

// Resync is "Resync now". On a secondary: a full comparison (every file
// re-hashed) and repair. On a primary: a full rescan, and the secondary is
// asked to resync. With two primaries, the node with the newer epoch is
// kept: the other one is demoted (itself, or the peer by request).
func (n *Node) Resync(ctx context.Context) error {
	n.mu.Lock()
	role, epoch, p := n.role, n.epoch, n.peer
	n.mu.Unlock()
	if role == RoleSecondary {
		if p.connected && p.info.Role == RoleSecondary {
			return fmt.Errorf("%w: both nodes are secondaries; promote one first", ErrRefused)
		}
		n.requestResync()
		return nil
	}
	if p.connected && p.info.Role == RolePrimary {
		switch {
		case epoch < p.info.Epoch:
			n.demote(fmt.Sprintf("resync: the peer holds the newer epoch (%d > %d)", p.info.Epoch, epoch))
			return nil
		case epoch > p.info.Epoch:
			return n.client.post(ctx, demotePath+"?epoch="+strconv.FormatUint(epoch, 10))
		default:
			return fmt.Errorf("%w: both primaries hold epoch %d; demote one explicitly", ErrRefused, epoch)
		}
	}
	n.requestRescan()
	if p.connected {
		return n.client.post(ctx, "/v1/peer/resync")
	}
	return nil
}

// requestRescan restarts the primary role loop, which rescans everything
// (and starts a new change log, so the secondary compares in full).
func (n *Node) requestRescan() {
	n.mu.Lock()
	cancel := n.roleCancel
	n.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// demotePath is the peer's request to step down. It is served even to a
// peer the compatibility check refuses (two primaries is the very case it
// exists for); demoteFor makes its own check.
const demotePath = "/v1/peer/demote"

// demoteFor handles the peer's request to step down: only a peer that is
// primary itself, with a newer epoch than this node's, may ask.
func (n *Node) demoteFor(from nodeInfo, peerEpoch uint64) error {
	n.mu.Lock()
	role, epoch := n.role, n.epoch
	n.mu.Unlock()
	if role != RolePrimary {
		return nil
	}
	if from.Role != RolePrimary || from.Epoch != peerEpoch {
		return fmt.Errorf("%w: the peer asking is %s at epoch %d, not primary at epoch %d", ErrRefused, from.Role, from.Epoch, peerEpoch)
	}
	if peerEpoch <= epoch {
		return fmt.Errorf("%w: this node's epoch %d is not older than %d", ErrRefused, epoch, peerEpoch)
	}
	n.demote(fmt.Sprintf("the peer holds the newer epoch (%d > %d)", peerEpoch, epoch))
	return nil
}

func (n *Node) promote(reason string) {
	n.mu.Lock()
	n.role = RolePrimary
	n.epoch = max(n.epoch, n.peerEpochMax) + 1
	n.st = syncState{} // a new role: the status (and its since) starts over
	clear(n.failed)    // what the secondary could not install is no longer pending
	clear(n.refused)
	n.syncFail = syncFailure{}
	n.noteRoleStartLocked()
	epoch := n.epoch
	cancel := n.roleCancel
	n.mu.Unlock()
	n.log.Warn("promoted to primary", "epoch", epoch, "reason", reason)
	n.metrics.promotions.Inc()
	n.metrics.epoch.Set(float64(epoch))
	if err := n.saveState(); err != nil {
		n.log.Error("cannot save state", "err", err)
	}
	n.runHook(n.set().OnPromote, "promote", RolePrimary, epoch, reason)
	if cancel != nil {
		cancel()
	}
}

func (n *Node) demote(reason string) {
	n.mu.Lock()
	n.role = RoleSecondary
	epoch := n.epoch
	cancel := n.roleCancel
	n.setStateLocked(StateConnecting, reason)
	n.noteRoleStartLocked()
	n.mu.Unlock()
	n.log.Warn("demoted to secondary", "epoch", epoch, "reason", reason)
	n.app.forget() // what differs from the new primary is moved aside, not overwritten
	if err := n.saveState(); err != nil {
		n.log.Error("cannot save state", "err", err)
	}
	n.runHook(n.set().OnDemote, "demote", RoleSecondary, epoch, reason)
	if cancel != nil {
		cancel()
	}
}

// runHook runs argv in the background with the new role in its
// environment; it never blocks the sync. Its failure is logged and shown
// in the status until a hook started later runs.
func (n *Node) runHook(argv []string, what string, role Role, epoch uint64, reason string) {
	if len(argv) == 0 {
		return
	}
	fence := n.fenceEnv()
	n.mu.Lock()
	n.hookStarted++
	seq := n.hookStarted
	n.mu.Unlock()
	n.hooks.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		env := append([]string{"REDUND_SCHEDSYNC_EVENT=" + what, "REDUND_SCHEDSYNC_ROLE=" + role.String(),
			"REDUND_SCHEDSYNC_EPOCH=" + strconv.FormatUint(epoch, 10), "REDUND_SCHEDSYNC_DIR=" + n.cfg.Dir,
			"REDUND_SCHEDSYNC_REASON=" + reason}, fence...)
		cmd.Env = config.ChildEnv(env...)
		out, err := cmd.CombinedOutput()
		n.hookFinished(seq, what, err, out)
		if err != nil {
			n.log.Error("hook failed", "hook", what, "err", err, "output", string(out))
			return
		}
		n.log.Info("hook ran", "hook", what, "output", string(out))
	})
}

// lastLine is the last non-empty line of a hook's output, at most 200 runes.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(strings.ToValidUTF8(string(out), "?")), "\n")
	r := []rune(strings.TrimSpace(lines[len(lines)-1]))
	if len(r) > 200 {
		r = append(r[:200], '…')
	}
	return string(r)
}

// hookFinished records the outcome of hook seq unless a later one has
// finished first: the latest hook's failure is what the status shows.
func (n *Node) hookFinished(seq uint64, what string, err error, out []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if seq < n.hookDone {
		return
	}
	n.hookDone, n.hookErr = seq, ""
	if err != nil {
		n.hookErr = fmt.Sprintf("on_%s hook failed: %v", what, err)
		if o := lastLine(out); o != "" {
			n.hookErr += ": " + o
		}
	}
}
