package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redund/redund/internal/peer"
)

// Frame types on the peer link.
const (
	msgRole     byte = peer.TypeApp + 0 // JSON roleMsg, sent on every role change
	msgTakeOver byte = peer.TypeApp + 1 // the active node asks the standby to take over
	msgResync   byte = peer.TypeApp + 2 // provider name: follower must copy a full snapshot

	reqReplica  byte = peer.TypeApp + 0x20 // replica pull / snapshot
	reqHandover byte = peer.TypeApp + 0x21 // standby asks the active node to step down
	reqUptime   byte = peer.TypeApp + 0x22 // the master's active intervals
	reqHistory  byte = peer.TypeApp + 0x23 // forwarded history points
)

type roleMsg struct {
	Role      string `json:"role"`
	Epoch     uint64 `json:"epoch"`
	ClientURL string `json:"client_url,omitempty"`
}

// parseRole decodes and checks a role message.
func parseRole(b []byte) (roleMsg, error) {
	var m roleMsg
	if err := json.Unmarshal(b, &m); err != nil {
		return m, err
	}
	switch m.Role {
	case RoleStarting, RoleActive, RoleStandby:
		return m, nil
	}
	return m, fmt.Errorf("unknown role %q", m.Role)
}

type handoverResp struct {
	StateLogID string `json:"state_log_id"`
	StateLast  uint64 `json:"state_last"`
}

func (g *Gateway) newPeer() (*peer.Node, error) {
	opts := peer.Options{Hello: g.hello, Compat: g.compat, DownAfter: g.cfg.FailoverTimeout.D(), Log: g.log,
		OnEvent: g.onPeerEvent, OnMessage: g.onMessage, OnRequest: g.onRequest, MaxBackoff: 500 * time.Millisecond}
	switch {
	case g.cfg.Mode == ModeBackup:
		opts.Dial = g.cfg.Peer
	case g.opts.PeerListener != nil:
		opts.Listener = g.opts.PeerListener
	default:
		opts.Listen = g.cfg.PeerListen
	}
	n, err := peer.New(&g.cfg.Link, opts)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return n, nil
}

func (g *Gateway) hello() peer.Hello {
	g.mu.Lock()
	defer g.mu.Unlock()
	return peer.Hello{NodeID: g.cfg.NodeID, Mode: g.cfg.Mode, Version: g.opts.Version, Epoch: g.epoch,
		UptimeMS: time.Since(g.started).Milliseconds(),
		App:      map[string]string{"role": g.role, "client_url": g.cfg.ClientURL, "history": g.cfg.History}}
}

// compat refuses two masters, two backups, an independent node, the same
// node id, and a different major version.
func (g *Gateway) compat(local, remote peer.Hello) error {
	if err := peer.DefaultCompat(local, remote); err != nil {
		return err
	}
	if remote.Mode != ModeMaster && remote.Mode != ModeBackup {
		return fmt.Errorf("peer mode %q cannot pair with %q", remote.Mode, local.Mode)
	}
	if major(local.Version) != major(remote.Version) {
		return fmt.Errorf("incompatible versions %s and %s (major versions differ)", local.Version, remote.Version)
	}
	return nil
}

func major(v string) string {
	for i, c := range v {
		if c == '.' {
			return v[:i]
		}
	}
	return v
}

func (g *Gateway) onPeerEvent(e peer.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch e.State {
	case peer.Up:
		g.peerUp, g.peerHello = true, e.Remote
		g.peerRole, g.peerURL = e.Remote.App["role"], e.Remote.App["client_url"]
		g.lastHeard = e.Time
		g.sysEvent("peer", fmt.Sprintf("link up with %s (%s, role %s)", e.Remote.NodeID, e.Remote.Mode, g.peerRole))
		g.sendRoleLocked()
	case peer.Down:
		if g.peerUp {
			g.lastHeard = e.LastHeard
			if g.lastHeard.IsZero() {
				g.lastHeard = e.Time
			}
			g.sysEvent("peer", "link down: "+e.Reason)
		}
		g.peerUp = false
	case peer.Refused:
		g.peerUp = false
		g.sysEvent("peer", "link refused: "+e.Reason)
		g.sup.fault("peer link refused: " + e.Reason)
	case peer.Mismatch:
		g.peerUp = false
		g.onMismatchLocked(e)
	}
	g.notifyLocked()
}

// onMismatchLocked: the other node answers the handshake but its secret
// or certificate differs, so it is alive. A backup takes each answer for a
// heartbeat (lastHeard) and, while starting, becomes standby instead of
// going active after join_wait; the standby rule then fails over only once
// the master has stopped answering for failover_timeout (the peer link
// redials at least three times per failover_timeout while in Mismatch).
// The master, and a node already active, are not moved. The event and the
// on_fault hook come once per Mismatch, not on every answer (g.mu held).
func (g *Gateway) onMismatchLocked(e peer.Event) {
	if g.cfg.Mode == ModeBackup {
		g.lastHeard = e.Time
		if g.role == RoleStarting {
			g.setRoleLocked(RoleStandby, "the master answers but "+e.Reason+"; standby until it stops answering")
		}
	}
	if !e.Repeat {
		g.sysEvent("peer", "link mismatch: "+e.Reason+" (the other node answers; give both nodes the same)")
		g.sup.fault("peer link mismatch: " + e.Reason)
	}
}

func (g *Gateway) sendRoleLocked() {
	if g.node == nil || !g.peerUp {
		return
	}
	b, _ := json.Marshal(roleMsg{Role: g.role, Epoch: g.epoch, ClientURL: g.cfg.ClientURL})
	go func() { _ = g.node.Send(msgRole, b) }()
}

func (g *Gateway) onMessage(typ byte, body []byte) {
	switch typ {
	case msgRole:
		m, err := parseRole(body)
		if err != nil {
			g.log.Warn("bad role message from the peer", "err", err)
			return
		}
		g.mu.Lock()
		g.peerRole, g.peerURL = m.Role, m.ClientURL
		g.notifyLocked()
		g.mu.Unlock()
	case msgTakeOver:
		go func() {
			if err := g.takeOver(context.Background(), "the active node handed control over (forced failover)"); err != nil {
				g.log.Warn("take over failed", "err", err)
			}
		}()
	case msgResync:
		if err := g.store.ForceFullSync(string(body), "requested by the peer (force re-sync)"); err != nil {
			g.log.Warn("bad re-sync request from the peer", "err", err)
		}
	}
}

func (g *Gateway) onRequest(ctx context.Context, typ byte, body []byte) ([]byte, error) {
	switch typ {
	case reqReplica:
		return g.store.Serve(ctx, body)
	case reqHandover:
		return g.handOver()
	case reqUptime:
		return g.hist.uptimeJSON()
	case reqHistory:
		return g.hist.acceptForwarded(body)
	}
	return nil, fmt.Errorf("unknown request type %#x", typ)
}

// handOver answers the peer's handover request: step down, then tell it
// where the state log stands so it can catch up before becoming active.
func (g *Gateway) handOver() ([]byte, error) {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.role != RoleActive {
		return nil, fmt.Errorf("this node is %s, not active", g.role)
	}
	g.yieldUntil = time.Now().Add(yieldFor)
	g.setRoleLocked(RoleStandby, "handed control to "+g.peerHello.NodeID)
	pos, err := g.store.Position(ProvState)
	if err != nil {
		return nil, err
	}
	return json.Marshal(handoverResp{StateLogID: pos.LogID, StateLast: pos.Last})
}

// startHandoverLocked runs takeOver in the background (g.mu held).
func (g *Gateway) startHandoverLocked(why string) {
	g.handingOver = true
	go func() {
		err := g.takeOver(context.Background(), why)
		g.mu.Lock()
		g.handingOver = false
		if err != nil {
			g.log.Warn("handover failed", "err", err)
			g.sysEvent("handover", "failed: "+err.Error())
			if g.role == RoleStarting {
				g.setRoleLocked(RoleStandby, "handover failed: "+err.Error())
			}
		}
		g.notifyLocked()
		g.mu.Unlock()
	}()
}

// takeOver makes this standby node active through a handover: the active
// peer steps down first, this node catches up on the state log, then
// becomes active. There is never a moment with two active nodes.
func (g *Gateway) takeOver(ctx context.Context, why string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	g.mu.Lock()
	g.takingOver = true
	g.notifyLocked()
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.takingOver = false
		g.notifyLocked()
		g.mu.Unlock()
	}()
	body, err := g.node.Request(ctx, reqHandover, nil)
	if err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	var h handoverResp
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	for {
		pos, err := g.store.Position(ProvState)
		if err != nil {
			return err
		}
		if pos.SrcLogID == h.StateLogID && pos.Applied >= h.StateLast {
			break
		}
		select {
		case <-ctx.Done():
			return errors.New("handover: state did not catch up within 15s")
		case <-time.After(5 * time.Millisecond):
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.peerRole = RoleStandby // it stepped down to answer the handover
	g.setRoleLocked(RoleActive, why)
	return nil
}

// Failover forces a failover: an active node hands control to its peer,
// a standby node takes it.
func (g *Gateway) Failover(ctx context.Context) (string, error) {
	g.mu.Lock()
	role, up, peerRole, peerID := g.role, g.peerUp, g.peerRole, g.peerHello.NodeID
	g.mu.Unlock()
	switch {
	case g.node == nil:
		return "", errors.New("an independent node has no peer to fail over to")
	case !up:
		return "", errors.New("the peer is not connected; a forced failover needs both nodes")
	case role == RoleActive && peerRole != RoleActive:
		if err := g.node.Send(msgTakeOver, nil); err != nil {
			return "", err
		}
		return "asked " + peerID + " to take over", nil
	case role != RoleActive && peerRole == RoleActive:
		if err := g.takeOver(ctx, "forced failover (operator)"); err != nil {
			return "", err
		}
		return g.cfg.NodeID + " is now active", nil
	}
	return "", fmt.Errorf("no failover possible: this node is %s, the peer is %s", role, peerRole)
}

// Resync forces a full snapshot: on a standby node of the providers it
// follows, on the active node by asking the peer to take one.
func (g *Gateway) Resync() (string, error) {
	if g.node == nil {
		return "", errors.New("an independent node has nothing to re-sync")
	}
	if g.isActive() {
		provs := []string{ProvState}
		if g.cfg.Mode == ModeMaster {
			provs = append(provs, ProvConfig)
		}
		for _, p := range provs {
			if err := g.node.Send(msgResync, []byte(p)); err != nil {
				return "", err
			}
		}
		g.mu.Lock()
		peerID := g.peerHello.NodeID
		g.mu.Unlock()
		return "asked " + peerID + " to re-sync " + strings.Join(provs, ", "), nil
	}
	provs := []string{ProvState}
	if g.cfg.Mode == ModeBackup {
		provs = append(provs, ProvConfig)
	}
	for _, p := range provs {
		if err := g.store.ForceFullSync(p, "forced by the operator (redund gateway resync)"); err != nil {
			return "", err
		}
	}
	return "full re-sync of " + strings.Join(provs, ", ") + " scheduled", nil
}
