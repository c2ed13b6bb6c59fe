package schedsync

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/status"
)

// Status describes the node for `redund status` and GET /v1/status.
func (n *Node) Status() []status.Document {
	n.refreshState()
	n.mu.Lock()
	defer n.mu.Unlock()
	d := status.Document{Instance: n.cfg.NodeID, Scheme: "schedsync", Role: n.role.String(),
		State: n.st.Name.String(), Reason: n.st.Reason, Since: n.st.Since}
	if n.role == RolePrimary && !n.mayPublish() {
		// a primary by its saved role that does not hold the witness lock
		// (restarted, or lost it and not demoted yet) publishes nothing:
		// it is not shown as a primary, so that two never are
		d.Role = RolePrimary.String() + " (no witness lock)"
		d.Reason = "publishes nothing until it holds the witness lock"
	}
	if n.hookErr != "" {
		d.Reason = joinReason(n.hookErr, d.Reason)
		d.Health = append(d.Health, status.Health{Name: "hook", State: "ERR", Reason: n.hookErr})
	}
	if n.stateErr != "" {
		d.Reason = joinReason(n.stateErr, d.Reason)
		d.Health = append(d.Health, status.Health{Name: "state", State: "ERR", Reason: n.stateErr})
	}
	if n.journalErr != "" {
		d.Health = append(d.Health, status.Health{Name: "journal", State: "ERR", Reason: n.journalErr})
	}
	if n.cfg.Peer != "" {
		d.Peer = &status.Peer{Address: n.cfg.Peer, Connected: n.peer.connected, Since: n.peer.upSince,
			Reason: n.peer.lastErr}
	}
	det := map[string]any{"mode": n.cfg.Mode, "dir": n.cfg.Dir, "epoch": n.epoch,
		"uptime_s": time.Since(n.started).Seconds()}
	if note := n.roleNote(); note != "" {
		det["role_note"] = note
	}
	if n.peer.seen {
		det["peer_node"], det["peer_role"], det["peer_epoch"] = n.peer.info.Node, n.peer.info.Role.String(), n.peer.info.Epoch
		det["peer_state"], det["last_contact_s"] = n.peer.info.State.String(), since(n.peer.last)
		if n.peer.info.Progress != nil && n.role == RolePrimary {
			det["peer_progress"] = n.peer.info.Progress
		}
	}
	if n.role == RolePrimary {
		det["log_id"], det["seq"] = n.clogCurrentLocked()
		det["skipped"] = n.skipped.count()
	} else {
		det["log_id"], det["seq"] = n.app.position()
		det["local_edits"] = len(n.edits)
		det["sync_errors"] = n.failedListLocked()
		if pv := n.prog.Load().view(); pv != nil {
			det["progress"] = pv
			if State(d.State) == StateSyncing || State(d.State) == StateConnecting {
				d.Reason = pv.String()
			}
		}
		det["setid_dropped"] = n.setid.count()
		det["refused_symlinks"] = len(n.refused)
		if n.cfg.Mode == ModeSecondaryFailover && !n.peer.connected {
			ff := n.failoverFactsLocked()
			det["failover_in_s"] = max(0, (ff.Offset - ff.silent()).Seconds())
		}
	}
	det["symlink_safe"] = n.w.symlinkSafe() // openat2 RESOLVE_NO_SYMLINKS (beneath_linux.go)
	if n.wit != nil {
		det["witness"] = n.witnessDetailLocked()
	}
	if r := n.hookRunningLocked(); r != nil {
		det["hook_running"] = r
	}
	total, last := n.w.conflicts.snapshot()
	det["conflicts_total"] = total
	det["conflicts_rotated"] = n.w.conflicts.rotatedCount()
	if len(last) > 10 {
		last = last[len(last)-10:]
	}
	det["conflicts"] = last
	d.Details = det
	return []status.Document{d}
}

// joinReason puts an error before the state's reason.
func joinReason(err, reason string) string {
	if reason == "" {
		return err
	}
	return err + "; " + reason
}

// Register adds the node's status, metrics-backed actions and admin
// endpoints (POST /v1/schedsync/resync, /promote, /demote) to an admin
// server (loopback only, or with the admin token: see adminapi.Protect),
// the HTML status page at GET /schedsync (PagePath, listed on the
// server's index).
func (n *Node) Register(s lifecycle.Admin, token config.Secret) error {
	if n.opt.Registry == nil {
		if err := n.metrics.register(s.Registry()); err != nil {
			return err
		}
	}
	s.AddSource(n)
	for name, fn := range map[string]func(context.Context) error{
		"resync": n.Resync, "promote": n.Promote, "demote": n.Demote} {
		s.Handle("POST "+ActionPath(name), adminapi.Protect(token, n.action(name, fn)))
	}
	s.Handle("GET "+PagePath, n.pageHandler(s, token))
	s.AddPage("schedsync", PagePath, nil)
	return nil
}

// ActionPath is the admin path of an operator action.
func ActionPath(name string) string { return "/v1/schedsync/" + name }

func (n *Node) action(name string, fn func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if err := fn(ctx); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrRefused) {
				code = http.StatusConflict
			}
			adminapi.WriteError(w, code, err.Error())
			return
		}
		n.log.Info("operator action", "action", name)
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"result": name + " done", "status": n.Status()})
	})
}
