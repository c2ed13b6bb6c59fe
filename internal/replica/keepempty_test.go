package replica

import (
	"context"
	"errors"
	"testing"
)

// TestKeepOnEmpty: a follower of a provider named in KeepOnEmpty does not
// let a full sync from a new, empty leader replace its documents (it
// returns ErrEmptyCopy, recording one event however often it tries), and
// takes the empty copy once an operator forces a full sync. Without the
// option the empty copy replaces them, as before.
func TestKeepOnEmpty(t *testing.T) {
	for _, c := range []struct {
		name string
		keep []string
		kept bool
	}{{"kept", []string{"config"}, true}, {"not named", nil, false}} {
		t.Run(c.name, func(t *testing.T) {
			old, f := open(t, Options{NoSync: true}), open(t, Options{NoSync: true, KeepOnEmpty: c.keep})
			if _, err := old.Put("config", "doc", []byte("v")); err != nil {
				t.Fatal(err)
			}
			stop := follow(t, f, old, "config")
			waitConverged(t, f, old, "config")
			stop()
			rebuilt := open(t, Options{NoSync: true})
			if !c.kept {
				follow(t, f, rebuilt, "config")
				waitConverged(t, f, rebuilt, "config")
				if _, has, _ := f.Get("config", "doc"); has {
					t.Fatal("the empty copy did not replace the document")
				}
				return
			}
			var err error
			for range 3 { // each run ends with the refusal
				err = f.Follow(context.Background(), "config", direct{rebuilt}, 0x40)
			}
			_, has, _ := f.Get("config", "doc")
			if has != c.kept || errors.Is(err, ErrEmptyCopy) != c.kept {
				t.Fatalf("document kept %v, error %v", has, err)
			}
			refused := 0
			for _, e := range f.Events() {
				if e.Kind == "full_sync_refused" {
					refused++
				}
			}
			if refused != 1 {
				t.Fatalf("%d refusal events for 3 tries", refused)
			}
			if err := f.ForceFullSync("config", "operator"); err != nil {
				t.Fatal(err)
			}
			follow(t, f, rebuilt, "config")
			waitConverged(t, f, rebuilt, "config")
			if _, has, _ := f.Get("config", "doc"); has {
				t.Fatal("the forced full sync kept the document")
			}
		})
	}
}
