package config

import "testing"

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
