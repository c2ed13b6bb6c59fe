package text

import "testing"

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":          "plain text",
		"\x1b[31mred\x1b[0m":  "[31mred[0m",
		"a\tb\nc\rd":          "a b c d",
		"bell\x07 del\x7f":    "bell del",
		"c1 \u009b csi":       "c1  csi",
		"bidi \u202egnp.exe":  "bidi gnp.exe",
		"bad utf8 \xff\xfe":   "bad utf8 \ufffd",
		"emoji and ümlaut ok": "emoji and ümlaut ok",
	} {
		t.Run(in, func(t *testing.T) {
			if got := Clean(in); got != want {
				t.Errorf("Clean(%q) = %q, want %q", in, got, want)
			}
		})
	}
}
