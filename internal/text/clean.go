package text

import (
	"strings"
	"unicode"
)

// Clean makes a string that came from outside (a peer, an answer) safe to
// show in a status document, an HTML page, a log line, an event or a
// hook's environment: invalid UTF-8 becomes U+FFFD, tabs and line breaks
// become spaces, and other control characters (C0, DEL, C1, so terminal
// escape sequences lose their ESC) and bidirectional-text controls are
// removed. It is the one sanitiser for text a peer supplies (the terminal
// table marks what it replaces with '?' instead: see termview).
func Clean(s string) string {
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
