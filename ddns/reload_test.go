package ddns

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/testutil"
)

func reloadCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestReloadServers: a reload that adds a server of a higher priority
// makes the running daemon probe it and point the name at it; one that
// removes it stops its probe and points back; a new scheme starts and a
// removed one stops; a scheme whose config did not change keeps running
// as it was.
func TestReloadServers(t *testing.T) {
	main, backup, sorry, extra := newPage(t, true), newPage(t, true), newPage(t, true), newPage(t, true)
	cat := catConfig(t, main, backup, sorry)
	dog := catConfig(t, main, backup, sorry)
	dog.Name = "dog.example.test"
	provs := map[string]*memProvider{"cat": {}, "dog": {}, "emu": {}}
	d, err := New(map[string]*Config{"cat": cat, "dog": dog}, Options{Provider: func(name string, _ *Config) (dnsupdate.Provider, error) {
		return provs[name], nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	testutil.Eventually(t, 5*time.Second, "cat and dog to point at main", func() bool {
		return provs["cat"].current() == "192.0.2.1" && provs["dog"].current() == "192.0.2.1"
	})
	dogScheme := d.Scheme("dog")

	cat2 := *cat
	cat2.Servers = append(slices.Clone(cat.Servers), Server{Name: "extra", Address: "192.0.2.9", Priority: 40, Check: extra.check()})
	emu := catConfig(t, main, backup, sorry)
	emu.Name = "emu.example.test"
	changed := []string{"ddns.cat.servers[3].address", "ddns.cat.servers[3].name", "ddns.emu.name", "ddns.dog.name", "voter.x.listen"}
	applied, err := d.Reload(reloadCtx(t), map[string]*Config{"cat": &cat2, "dog": dog, "emu": emu}, changed)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ddns.cat.servers[3].address", "ddns.cat.servers[3].name", "ddns.emu.name"}; !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v (dog's config did not change: its key is not applied)", applied, want)
	}
	testutil.Eventually(t, 5*time.Second, "cat to point at the new server extra", func() bool { return provs["cat"].current() == "192.0.2.9" })
	if extra.hits.Load() == 0 {
		t.Error("the new server was never probed")
	}
	testutil.Eventually(t, 5*time.Second, "the new scheme emu to push", func() bool { return provs["emu"].current() == "192.0.2.1" })
	if d.Scheme("dog") != dogScheme {
		t.Error("the unchanged scheme dog was rebuilt")
	}

	// remove extra again (and the scheme emu): cat points back at main
	if _, err := d.Reload(reloadCtx(t), map[string]*Config{"cat": cat, "dog": dog}, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "cat to point back at main", func() bool { return provs["cat"].current() == "192.0.2.1" })
	if d.Scheme("emu") != nil || len(d.Status()) != 2 {
		t.Errorf("the removed scheme emu still runs: %d schemes", len(d.Status()))
	}
	hits := extra.hits.Load()
	seen := main.hits.Load()
	testutil.Eventually(t, 5*time.Second, "main to be probed on", func() bool { return main.hits.Load() > seen+3 })
	if got := extra.hits.Load(); got > hits+1 { // one may have been in flight
		t.Errorf("the removed server was probed %d more times", got-hits)
	}
}

// TestReloadAllOrNothing: a reload whose new scheme cannot be set up
// (its provider fails) changes nothing, not even the schemes before it.
func TestReloadAllOrNothing(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	cat := catConfig(t, main, backup, sorry)
	p := &memProvider{}
	d, err := New(map[string]*Config{"cat": cat}, Options{Provider: func(name string, _ *Config) (dnsupdate.Provider, error) {
		if name == "zzz" {
			return nil, errBadProvider
		}
		return p, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	testutil.Eventually(t, 5*time.Second, "cat to point at main", func() bool { return p.current() == "192.0.2.1" })
	probes := d.Probes()
	cat2 := *cat
	cat2.Servers = slices.Clone(cat.Servers)
	cat2.Servers[0].Priority = 1 // backup would win
	zzz := catConfig(t, main, backup, sorry)
	applied, err := d.Reload(reloadCtx(t), map[string]*Config{"cat": &cat2, "zzz": zzz}, []string{"ddns.cat.servers[0].priority", "ddns.zzz.name"})
	if err == nil || applied != nil {
		t.Fatalf("Reload = %v, %v; want an error and nothing applied", applied, err)
	}
	if d.Scheme("zzz") != nil || d.Probes() != probes {
		t.Errorf("a failed reload left scheme zzz (%v) or changed the probes (%d, was %d)", d.Scheme("zzz") != nil, d.Probes(), probes)
	}
	main.ok.Store(false)
	testutil.Eventually(t, 5*time.Second, "cat to fail over to backup", func() bool { return p.current() == "192.0.2.2" })
	main.ok.Store(true)
	testutil.Eventually(t, 5*time.Second, "cat to come back to main (its old priority 30 still rules)", func() bool {
		return p.current() == "192.0.2.1"
	})
	if s := d.Scheme("cat"); s.cfg.Servers[0].Priority != 30 {
		t.Errorf("main's priority is %d after a failed reload, want 30", s.cfg.Servers[0].Priority)
	}
}

var errBadProvider = dnsupdate.ErrUnsupported
