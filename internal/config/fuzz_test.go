package config

import (
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary text to the strict loader: it must return
// an error or a value, never panic, and every error must be an Errors.
func FuzzDecode(f *testing.F) {
	f.Add("[admin]\nlisten = \"127.0.0.1:9180\"\n")
	f.Add("[ddns.cat]\n[[ddns.cat.servers]]\npriority = 0\npassword_env = \"X\"\n")
	f.Add("[a\nb = ")
	f.Add("x = \"\"\"\n[[y]]\n\"\"\"\n")
	f.Fuzz(func(t *testing.T, src string) {
		var r testRoot
		err := Decode("fuzz.toml", src, &r)
		if err != nil {
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		_ = Annotate("fuzz.toml", src, r.Validate())
		_ = positions(src)
	})
}

// FuzzParseErrorHidesSecret puts a value that starts with a marker after a
// secret key in several shapes: no error message may show the marker.
func FuzzParseErrorHidesSecret(f *testing.F) {
	for _, s := range []string{"abc", "a\\qb\"", "x\n[y]", "\"\"\"", "a', b = 1 }", "ab\"  junk"} {
		f.Add(uint8(0), s)
		f.Add(uint8(3), s)
	}
	shapes := []string{"[admin]\ntoken = \"%s", "[admin]\ntoken = '%s", "[admin]\ntoken = %s",
		"[admin]\ntoken = \"\"\"%s", "admin = { listen = \"x\", token = \"%s", "[voter.e]\nprimary = \"%s",
		"[[voter.e.clients]]\npassword = \"%s\"\nname = 1"}
	f.Fuzz(func(t *testing.T, shape uint8, value string) {
		if strings.Contains(value, "ZQX") {
			return
		}
		src := strings.Replace(shapes[int(shape)%len(shapes)], "%s", "ZQX"+value, 1)
		var r redactRoot
		if err := Decode("fuzz.toml", src, &r); err != nil && strings.Contains(err.Error(), "ZQX") {
			t.Fatalf("the error shows the secret:\n%s", err)
		}
		_, _ = redactLine(value, map[string]bool{"token": true})
	})
}
