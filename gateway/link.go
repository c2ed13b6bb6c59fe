package gateway

import (
	"context"
	"encoding/json"
	"fmt"
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
	Role      Role   `json:"role"`
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
	v := g.view()
	return peer.Hello{NodeID: g.cfg.NodeID, Mode: g.cfg.Mode.String(), Version: g.opts.Version, Epoch: v.Epoch,
		UptimeMS: time.Since(g.started).Milliseconds(),
		App: map[string]string{"role": v.Role.String(), "client_url": g.cfg.ClientURL, "history": g.cfg.History,
			helloWitness: g.witnessWord()}}
}

// helloWitness is the hello field that says whether the node takes part in
// the witness: "off", or the key of the lock it campaigns for.
const helloWitness = "witness"

// witnessWord is this node's helloWitness.
func (g *Gateway) witnessWord() string {
	if g.lock == nil {
		return "off"
	}
	return g.lock.Key()
}

// compat refuses two masters, two backups, an independent node, the same
// node id, a different major version, and nodes that disagree on the
// witness.
func (g *Gateway) compat(local, remote peer.Hello) error {
	if err := peer.DefaultCompat(local, remote); err != nil {
		return err
	}
	if m := Mode(remote.Mode); m != ModeMaster && m != ModeBackup {
		return fmt.Errorf("peer mode %q cannot pair with %q", remote.Mode, local.Mode)
	}
	if major(local.Version) != major(remote.Version) {
		return fmt.Errorf("incompatible versions %s and %s (major versions differ)", local.Version, remote.Version)
	}
	return witnessCompat(local, remote)
}

// witnessCompat refuses a pair whose nodes disagree on the witness: one
// with `witness = true` and one without, or two that campaign for
// different locks (another [witness] prefix). Either way the lock excludes
// nobody and the pair has none of its guarantee. The text names both
// nodes, so it reads the same on both ends. A peer that does not say (an
// older redund) is not judged.
func witnessCompat(local, remote peer.Hello) error {
	l, r := local.App[helloWitness], remote.App[helloWitness]
	if r == "" || l == r {
		return nil
	}
	if l != "off" && r != "off" {
		return fmt.Errorf("witness locks differ: node %q campaigns for %s, node %q for %s: give both nodes the same "+
			"[witness] prefix", local.NodeID, l, remote.NodeID, r)
	}
	on, lock, off := local.NodeID, l, remote.NodeID
	if l == "off" {
		on, lock, off = remote.NodeID, r, local.NodeID
	}
	return fmt.Errorf("witness differs: node %q has witness = true (lock %s), node %q has witness = false: "+
		"set witness the same on both nodes", on, lock, off)
}

func major(v string) string {
	for i, c := range v {
		if c == '.' {
			return v[:i]
		}
	}
	return v
}

// onPeerEvent hands link state changes to the role loop. The peer calls
// it in order, before the messages of a new connection and after those of
// an ended one, and the loop reads one channel: it sees them in order.
func (g *Gateway) onPeerEvent(e peer.Event) {
	switch e.State {
	case peer.Up:
		h := e.Remote
		g.send(input{Kind: inLinkUp, At: e.Time, Peer: peerView{NodeID: h.NodeID, Mode: Mode(h.Mode), Version: h.Version,
			Role: Role(h.App["role"]), URL: h.App["client_url"]}})
	case peer.Down:
		last := e.LastHeard
		if last.IsZero() {
			last = e.Time
		}
		g.send(input{Kind: inLinkDown, At: last, Reason: e.Reason})
	case peer.Refused:
		// an authenticated peer refused compatibility: alive, not linked.
		// When this node refused the peer's (authenticated) hello, the
		// hello says the peer's role; each later one is a sign of life.
		in := input{Kind: inLinkAlive, Reason: e.Reason, Repeat: e.Repeat}
		if h := e.Remote; h.NodeID != "" {
			in.Peer = peerView{NodeID: h.NodeID, Mode: Mode(h.Mode), Version: h.Version, Role: Role(h.App["role"])}
		}
		g.send(in)
	case peer.Mismatch:
		// the other node answers the handshake but its secret or
		// certificate differs: it is alive. Each answer (Repeat) is a sign
		// of life; the event and the on_fault hook come once per Mismatch.
		g.send(input{Kind: inLinkAlive, Reason: e.Reason, Mismatch: true, Repeat: e.Repeat})
	}
}

func (g *Gateway) onMessage(typ byte, body []byte) {
	switch typ {
	case msgRole:
		m, err := parseRole(body)
		if err != nil {
			g.log.Warn("bad role message from the peer", "err", err)
			return
		}
		g.send(input{Kind: inPeerRole, Peer: peerView{Role: m.Role, URL: m.ClientURL}})
	case msgTakeOver:
		g.send(input{Kind: inTakeOverAsked})
	case msgResync:
		if err := g.store.ForceFullSync(string(body), "requested by the peer (force re-sync)"); err != nil {
			g.log.Warn("bad re-sync request from the peer", "err", err)
		}
	}
}

// onRequest answers the peer's requests; Run waits for those in flight
// before it closes the stores.
func (g *Gateway) onRequest(ctx context.Context, typ byte, body []byte) ([]byte, error) {
	if !g.reqs.enter() {
		return nil, errStopping
	}
	defer g.reqs.leave()
	switch typ {
	case reqReplica:
		return g.store.Serve(ctx, body)
	case reqHandover:
		return g.handOver(ctx)
	case reqUptime:
		return g.hist.uptimeJSON()
	case reqHistory:
		return g.hist.acceptForwarded(body)
	}
	return nil, fmt.Errorf("unknown request type %#x", typ)
}
