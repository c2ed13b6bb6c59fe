package peer

import (
	"strings"
	"unicode"
)

// maxReason bounds a reason received from the peer.
const maxReason = 512

// cleanText makes a string that came from the peer safe to show in a
// status document, an HTML page, a log line, an event or a hook's
// environment: invalid UTF-8 becomes U+FFFD, tabs and line breaks become
// spaces, and other control characters (C0, DEL, C1, so terminal escape
// sequences lose their ESC) and bidirectional-text controls are removed.
// It is the one sanitiser for every peer-supplied string (Refuse and Close
// reasons, remote errors, Hello fields).
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
}

// reason turns a peer-supplied reason into a printable, bounded string.
func reason(b []byte) string {
	if len(b) > maxReason {
		b = b[:maxReason]
	}
	return cleanText(string(b))
}
