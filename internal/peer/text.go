package peer

import "github.com/redund/redund/internal/text"

// maxReason bounds a reason received from the peer.
const maxReason = 512

// reason turns a peer-supplied reason into a printable, bounded string.
func reason(b []byte) string {
	if len(b) > maxReason {
		b = b[:maxReason]
	}
	return text.Clean(string(b))
}
