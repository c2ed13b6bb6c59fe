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

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 5, "abcde…"},
		{"ab€cd", 3, "ab…"}, // € is 3 bytes: not cut in half
		{"ab€cd", 5, "ab€…"},
	} {
		t.Run(tc.s, func(t *testing.T) {
			if got := Cut(tc.s, tc.max); got != tc.want {
				t.Errorf("Cut(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
			}
		})
	}
}

func TestCleanCut(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		max     int
		want    string
	}{
		{"clean and short", "ok", 10, "ok"},
		{"controls go", "a\x1b[2Jb\u202ec", 20, "a[2Jbc"},
		{"cut at a rune", "ab€cd\x1b", 4, "ab…"},
		{"cut then cleaned", "\x1b\x1b\x1babcdef", 5, "ab…"},
		{"invalid bytes grow", "\xffab\xffc", 6, "\uFFFDab…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CleanCut(tc.s, tc.max)
			if got != tc.want {
				t.Errorf("CleanCut(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
			}
			if len(got) > tc.max+len("…") {
				t.Errorf("%d bytes, bound %d", len(got), tc.max+len("…"))
			}
		})
	}
}
