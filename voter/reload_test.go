package voter

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

func unknownDigests(r *running, inst string) uint64 {
	g := r.insts[inst].g
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats.UnknownDigest
}

func clientNames(r *running, inst string) []string {
	var out []string
	for _, d := range r.Status() {
		if d.Instance == inst {
			for _, c := range d.Details["clients"].([]ClientStatus) {
				out = append(out, c.Name)
			}
		}
	}
	return out
}

// TestReloadClients: a reload that removes alice, adds bob and gives gps
// a new flag, on a running server: bob is accepted, alice's packets are
// refused as an unknown digest, gps keeps its session; the instance's
// other keys are not reported applied.
func TestReloadClients(t *testing.T) {
	cfg := &Config{Listen: "127.0.0.1:0", Password: "hostpw", Buflen: 160, Challenge: "12345678",
		Clients: map[string]*ClientConfig{"alice": {Password: "apw"}, "gps": {Password: "gpw", Master: true}}}
	r := startServer(t, map[string]*Config{"main": cfg})
	addr := r.Addr("main")
	gps := startSim(t, SimClient{Name: "gps", Server: addr, Password: "gpw", HostPassword: "hostpw", Master: true})
	alice := startSim(t, SimClient{Name: "alice", Server: addr, Password: "apw", HostPassword: "hostpw"})
	testutil.Eventually(t, 5*time.Second, "alice and gps to connect", func() bool { return alice.Connected() && gps.Connected() })
	gpsClient := r.insts["main"].clients[slices.IndexFunc(r.insts["main"].clients, func(c *client) bool { return c.name == "gps" })]

	next := *cfg
	next.Buflen = 480 // needs a restart
	next.Clients = map[string]*ClientConfig{"bob": {Password: "bpw"}, "gps": {Password: "gpw", Master: true, Transmit: true}}
	changed := []string{"voter.main.buflen", "voter.main.clients.alice.password", "voter.main.clients.bob.password", "voter.main.clients.gps.transmit"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	applied, err := r.Reload(ctx, map[string]*Config{"main": &next}, changed)
	if err != nil {
		t.Fatal(err)
	}
	if want := changed[1:]; !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	before := unknownDigests(r, "main")
	bob := startSim(t, SimClient{Name: "bob", Server: addr, Password: "bpw", HostPassword: "hostpw"})
	testutil.Eventually(t, 5*time.Second, "the new client bob to connect", bob.Connected)
	testutil.Eventually(t, 5*time.Second, "alice's packets to be refused", func() bool { return unknownDigests(r, "main") > before+5 })
	if got := clientNames(r, "main"); !slices.Equal(got, []string{"bob", "gps"}) {
		t.Errorf("clients after the reload: %v, want [bob gps]", got)
	}
	r.insts["main"].g.mu.Lock()
	kept, transmit := slices.Contains(r.insts["main"].clients, gpsClient), gpsClient.cfg.Transmit
	r.insts["main"].g.mu.Unlock()
	if !kept || !transmit {
		t.Errorf("gps: session kept %v, transmit %v; want both", kept, transmit)
	}
	if r.insts["main"].cfg.Buflen != 160 {
		t.Error("buflen changed without a restart")
	}

	dup := next
	dup.Clients = map[string]*ClientConfig{"bob": {Password: "bpw"}, "carol": {Password: "bpw"}}
	if _, err := r.Reload(ctx, map[string]*Config{"main": &dup}, []string{"voter.main.clients.carol.password"}); err == nil {
		t.Error("Reload took two clients with one password")
	}
	if got := clientNames(r, "main"); !slices.Equal(got, []string{"bob", "gps"}) {
		t.Errorf("clients after a refused reload: %v, want [bob gps]", got)
	}
}
