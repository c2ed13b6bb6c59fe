package status

import (
	"strings"
	"testing"
)

// TestDecodeWholeAnswer: a status document is the whole answer; one
// followed by more (another document, a proxy's page) is refused, and
// trailing white space is not more.
func TestDecodeWholeAnswer(t *testing.T) {
	const doc = `{"schema":1,"daemon":"ddns run","instances":[]}`
	for _, c := range []struct {
		name, in string
		ok       bool
	}{
		{"document", doc, true},
		{"with a newline", doc + "\n", true},
		{"then a page", doc + "<html>", false},
		{"then another document", doc + doc, false},
		{"then garbage", doc + " x", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(c.in))
			if (err == nil) != c.ok {
				t.Errorf("Decode(%q): %v, want ok %v", c.in, err, c.ok)
			}
			if err != nil && !c.ok && !strings.Contains(err.Error(), "not a status document") {
				t.Errorf("error %q does not say what it is", err)
			}
		})
	}
}
