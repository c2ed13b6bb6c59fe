package status

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeReport feeds arbitrary bytes to the status document decoder:
// it must not panic, must accept only known schemas, and what it accepts
// must re-encode to a document that decodes to the same thing.
func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(`{"schema":1,"daemon":"ddns run","instances":[]}`))
	f.Add([]byte(`{"schema":2}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		if r.Schema < 1 || r.Schema > SchemaVersion {
			t.Fatalf("accepted schema %d", r.Schema)
		}
		once, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		r2, err := Decode(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("re-decode of %s: %v", once, err)
		}
		twice, _ := json.Marshal(r2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%s\n%s", once, twice)
		}
	})
}
