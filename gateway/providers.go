package gateway

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redund/redund/internal/replica"
)

// RefusedError is a write refused because of this node's mode or role;
// Redirect is the client URL of the node that would accept it, when known.
type RefusedError struct {
	Msg      string
	Redirect string
}

func (e *RefusedError) Error() string { return "gateway: " + e.Msg }

// ErrBadKey is returned for an empty or malformed document key.
var ErrBadKey = errors.New("gateway: key must be non-empty printable text without spaces")

func checkKey(k string) error {
	if k == "" || len(k) > 1024 || strings.ContainsAny(k, " \t\r\n") {
		return ErrBadKey
	}
	return nil
}

// configWritable says why this node may not change configuration ("" when
// it may): configuration is changed on the master only.
func (g *Gateway) configWritable() *RefusedError {
	if g.cfg.Mode == ModeBackup {
		return &RefusedError{Msg: "this node is the backup: configuration is changed on the master (" + g.cfg.Peer + ") and replicated here"}
	}
	return nil
}

// stateWritable: runtime state and history are written on the active node.
// State writes also need the node to lead its state log (whileLeading).
func (g *Gateway) stateWritable() *RefusedError {
	v := g.view()
	to := activePeerURL(v.roleState)
	if v.Role == RoleActive {
		if _, err := g.fence(); err != nil {
			return &RefusedError{Msg: err.Error() + ": it is standing down", Redirect: to}
		}
		return nil
	}
	msg := fmt.Sprintf("this node is %s: write to the active node", v.Role)
	if to == "" {
		msg += " (none is known over the link now)"
	}
	return &RefusedError{Msg: msg, Redirect: to}
}

// activePeerURL is where a refused writer is sent: the peer, only while
// the authenticated link is up and the peer says it is active (as the
// client listener redirects). With the link down the peer's "active" is a
// memory, not a verified state; "" then.
func activePeerURL(s roleState) string {
	if s.Link == linkUp && s.Peer.Role == RoleActive {
		return s.Peer.URL
	}
	return ""
}

// SetConfig stores a configuration document on the master; it returns the
// document's new version once durable.
func (g *Gateway) SetConfig(key string, value []byte) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if r := g.configWritable(); r != nil {
		return 0, r
	}
	return g.store.Put(ProvConfig, key, value)
}

// DeleteConfig removes a configuration document on the master.
func (g *Gateway) DeleteConfig(key string) (uint64, error) {
	if r := g.configWritable(); r != nil {
		return 0, r
	}
	return g.store.Delete(ProvConfig, key)
}

// ImportConfig stores many documents (each durable before return).
func (g *Gateway) ImportConfig(docs map[string][]byte) (int, error) {
	if r := g.configWritable(); r != nil {
		return 0, r
	}
	n := 0
	for k, v := range docs {
		if err := checkKey(k); err != nil {
			return n, fmt.Errorf("%q: %w", k, err)
		}
		if _, err := g.store.Put(ProvConfig, k, v); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// GetDoc reads one document of a provider (config or state); any node.
func (g *Gateway) GetDoc(prov, key string) (replica.Item, bool, error) {
	return g.store.Get(prov, key)
}

// ListDocs lists a provider's documents under prefix; any node.
func (g *Gateway) ListDocs(prov, prefix string) ([]replica.Item, error) {
	return g.store.List(prov, prefix)
}

// SetState writes a runtime state key on the active node.
func (g *Gateway) SetState(key string, value []byte) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	return whileLeading(g, func() (uint64, error) { return g.store.Put(ProvState, key, value) })
}

// DeleteState removes a runtime state key on the active node.
func (g *Gateway) DeleteState(key string) (uint64, error) {
	return whileLeading(g, func() (uint64, error) { return g.store.Delete(ProvState, key) })
}

// whileActive runs w if this node is active, holding off any step-down
// while it runs (the role loop takes writeMu before it publishes a role
// other than active), so that a write accepted as active is stored before
// the handover reads the state log's position.
func whileActive[T any](g *Gateway, w func() (T, error)) (T, error) {
	g.writeMu.RLock()
	defer g.writeMu.RUnlock()
	if r := g.stateWritable(); r != nil {
		var zero T
		return zero, r
	}
	return w()
}

// whileLeading is whileActive for writes of the state log: while this
// active node does not lead its state log (store.Lead failed; the role loop
// tries again every second, holding writeMu, so the check cannot race a
// retry) they are refused like a write to a node that is not active. The
// log is still marked as following the peer's: a write kept in it could be
// lost or conflict at the next handover. History and configuration are
// kept apart from the state log and are not refused for it.
func whileLeading[T any](g *Gateway, w func() (T, error)) (T, error) {
	return whileActive(g, func() (T, error) {
		if e := g.leadErr.Load(); e != nil {
			var zero T
			return zero, &RefusedError{Msg: *e + "; state writes are refused until a retry leads it"}
		}
		return w()
	})
}
