package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
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

// Cut returns s cut to at most max bytes at a rune boundary, with "…"
// after it when anything was cut.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:runeStart(s, max)] + "…"
}

// CleanCut is Clean(s) cut to at most max bytes (and "…", see Cut): text
// a peer or a server sent, bounded for a status reason, an error or a log
// line. Of a long s only the first max bytes are read.
func CleanCut(s string, max int) string {
	cut := len(s) > max
	if cut {
		s = s[:runeStart(s, max)]
	}
	s = Clean(s)
	if len(s) > max { // invalid bytes became U+FFFD
		s, cut = s[:runeStart(s, max)], true
	}
	if cut {
		s += "…"
	}
	return s
}

// runeStart is the largest i <= max at which a rune of s starts.
func runeStart(s string, max int) int {
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return max
}
