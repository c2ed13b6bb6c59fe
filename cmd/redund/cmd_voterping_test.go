package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/voter"
)

// `redund voter ping CLIENT N` against a running server's admin endpoint
// prints chan_voter's two result lines; an unknown client exits 1.
func TestVoterPingCommand(t *testing.T) {
	s, err := voter.New(map[string]*voter.Config{"main": {Listen: "127.0.0.1:0", Password: "hostpw", Buflen: 160,
		Clients: map[string]*voter.ClientConfig{"alice": {Password: "apw"}, "gps": {Password: "gpw", Master: true}}}},
		voter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	sim := voter.NewSim([]voter.SimClient{
		{Name: "gps", Server: s.Addr("main"), Password: "gpw", HostPassword: "hostpw", Master: true},
		{Name: "alice", Server: s.Addr("main"), Password: "apw", HostPassword: "hostpw"}})
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; <-simDone })
	admin := http.NewServeMux()
	s.Register(admin, "")
	hs := httptest.NewServer(admin)
	t.Cleanup(hs.Close)
	deadline := time.Now().Add(5 * time.Second)
	for !sim.Connected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out, code := runCLI(t, "voter", "ping", "--admin", hs.Listener.Addr().String(), "alice", "3")
	if code != exitOK || !strings.Contains(out, "PING (alice): Packets tx: 3, rx: 3, oos: 0") ||
		!strings.Contains(out, "100.0% Packets successfully received (0.0% loss)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if out, code := runCLI(t, "voter", "ping", "--admin", hs.Listener.Addr().String(), "nobody"); code != exitFailed {
		t.Errorf("unknown client: exit %d:\n%s", code, out)
	}
}
