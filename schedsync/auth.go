package schedsync

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/text"
)

// The link is authenticated with internal/peer's HTTP signer (the format is
// documented there and in docs/schedsync.md): every request carries a MAC
// over its method, URI, time, nonce, body and X-Redund-Node; every answer
// a proof over its status and, in a trailer, over its body and
// X-Redund-Sha256. Without a secret the link relies on pinned TLS alone
// (Validate insists on one of the two).

// errAuth is wrapped by every authentication failure.
var errAuth = peer.ErrAuth

// linkProto names the wire format in every MAC: nodes of different
// protocol versions refuse each other's requests and say why.
func linkProto() string { return "schedsync/" + strconv.Itoa(ProtocolVersion) }

// Request bodies are read whole and checked before they are used.
const (
	maxPathsBody = 16 << 20
	maxSigBody   = 16 + 12*maxSigBlocks
)

// newLinkAuth returns nil without a secret.
func newLinkAuth(secret string) (*peer.HTTPAuth, error) {
	if secret == "" {
		return nil, nil
	}
	a, err := peer.NewHTTPAuth(peer.HTTPAuthConfig{Secret: secret, Proto: linkProto(),
		RequestHeaders: []string{nodeHeader}, ResponseTrailers: []string{hashHeader}})
	if err != nil {
		return nil, fmt.Errorf("schedsync: %w", err)
	}
	return a, nil
}

// authenticate checks r (reading its body, at most maxBody bytes) and
// returns the writer that signs the answer and the function that ends it;
// ok is false when r was refused (and answered).
func (n *Node) authenticate(w http.ResponseWriter, r *http.Request, maxBody int64) (http.ResponseWriter, func(), bool) {
	if n.auth == nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		return w, func() {}, true
	}
	nonce, err := n.auth.VerifyRequest(r, maxBody)
	if err == nil {
		sw := n.auth.SignResponse(w, nonce)
		return sw, sw.Finish, true
	}
	why := n.refusalText(err)
	n.metrics.refused.Inc()
	n.refusedLog.Event(hostOf(r.RemoteAddr), why)
	n.auth.Refuse(w, nonce, http.StatusUnauthorized, why)
	return nil, nil, false
}

// refusalText explains a refused request in this node's words (never the
// request's): an old node shows it as "peer says ...".
func (n *Node) refusalText(err error) string {
	var pe *peer.ProtoError
	if errors.As(err, &pe) {
		return fmt.Sprintf("this node speaks schedsync protocol %d (redund %s), the other node %s: "+
			"run the same redund version on both nodes", ProtocolVersion, orDefault(n.opt.Version, "dev"), protoWords(pe.Remote))
	}
	return "authentication failed: " + err.Error()
}

// protoWords names another node's protocol from the first field of its
// X-Redund-Auth ("v1" was protocol 1).
func protoWords(p string) string {
	if p == "v1" {
		return "protocol 1 (an older redund)"
	}
	if v, ok := strings.CutPrefix(p, "schedsync/"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return "protocol " + strconv.Itoa(n)
		}
	}
	return "an unknown protocol"
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// clean makes text from an authenticated peer printable and short.
func clean(s string) string {
	s = text.Clean(s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "..."
	}
	return strings.TrimSpace(s)
}
