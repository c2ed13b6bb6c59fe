package schedsync

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/redund/redund/internal/peer"
)

// ProtocolVersion is the version of the node-to-node protocol. 2: every
// request and answer, bodies included, authenticated with internal/peer's
// HTTP signer; nodes of protocol 1 cannot talk to it and are told so.
// 3: the body proof of a file stream covers its digest (filestream.go),
// so the secondary hashes each file once. 4: that digest covers the
// records' headers only (a file's content is proven by the manifest's
// hash), so the primary does not hash what it sends.
const ProtocolVersion = 4

// Role is the role a node plays right now; its text ("primary") is what
// the status, the peer and the state file carry.
type Role string

// Roles a node plays right now (its mode says which it starts in).
const (
	RolePrimary   Role = "primary"
	RoleSecondary Role = "secondary"
)

// String returns the role's name.
func (r Role) String() string { return string(r) }

// nodeHeader carries the caller's nodeInfo (base64 JSON) on every request.
const nodeHeader = "X-Redund-Node"

// nodeInfo is what two nodes tell each other in the handshake (GET
// /v1/hello) and on every request.
type nodeInfo struct {
	Node    string  `json:"node"`
	Mode    Mode    `json:"mode"` // configured mode
	Role    Role    `json:"role"` // primary or secondary now
	Version string  `json:"version"`
	Proto   int     `json:"proto"`
	Epoch   uint64  `json:"epoch"`
	Uptime  float64 `json:"uptime_s"`
	State   State   `json:"state"`
	Reason  string  `json:"reason,omitempty"`
	LogID   string  `json:"log_id,omitempty"` // primary: its change log; secondary: the one it follows
	Seq     uint64  `json:"seq"`              // primary: last change; secondary: last applied
	// Progress is the secondary's transfer in flight.
	Progress *Progress `json:"progress,omitempty"`
}

// helloReply is the body of GET /v1/hello.
type helloReply struct {
	Node    nodeInfo `json:"node"`
	Refused string   `json:"refused,omitempty"` // set with status 409
}

// compat is the compatibility check both ends run on the other's info; it
// returns why the pair cannot work, or "". The node-id rule is
// internal/peer's (DefaultCompat, as gateway's); the others are
// Schedule's: the same version exactly, and one primary.
func compat(self, other nodeInfo) string {
	idErr := peer.DefaultCompat(peer.Hello{NodeID: self.Node}, peer.Hello{NodeID: other.Node})
	switch {
	case other.Proto != self.Proto:
		return fmt.Sprintf(reasonProtoPrefix+"this node %d, peer %d", self.Proto, other.Proto)
	case other.Version != self.Version:
		return fmt.Sprintf("different versions: this node %s, peer %s", self.Version, other.Version)
	case idErr != nil:
		return idErr.Error() + " (set node_id)"
	case self.Role == RolePrimary && other.Role == RolePrimary:
		return fmt.Sprintf("two primaries (epoch %d here, %d on the peer): demote one; resync keeps the newer epoch",
			self.Epoch, other.Epoch)
	case self.Role == RoleSecondary && other.Role == RoleSecondary:
		return "both nodes are secondaries: promote one"
	}
	return ""
}

func encodeInfo(i nodeInfo) string {
	b, _ := json.Marshal(i)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeInfo reads the caller's info from a request header.
func decodeInfo(h http.Header) (nodeInfo, error) {
	var i nodeInfo
	s := h.Get(nodeHeader)
	if len(s) > 8192 {
		return i, fmt.Errorf("schedsync: %s too long", nodeHeader)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return i, fmt.Errorf("schedsync: bad %s: %w", nodeHeader, err)
	}
	if err := json.Unmarshal(b, &i); err != nil {
		return i, fmt.Errorf("schedsync: bad %s: %w", nodeHeader, err)
	}
	if i.Role != RolePrimary && i.Role != RoleSecondary {
		return i, fmt.Errorf("schedsync: bad %s: role %q", nodeHeader, i.Role)
	}
	return i, nil
}

func asRefused(err error, re **refusedError) bool { return errors.As(err, re) }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
