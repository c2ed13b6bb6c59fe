package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/voter"
)

// `redund voter ping CLIENT N` against a running server's admin endpoint
// prints chan_voter's two result lines; an unknown client exits 1.
func TestVoterPingCommand(t *testing.T) {
	s := startTestVoter(t)
	ctx, cancel := context.WithCancel(context.Background())
	sim := voter.NewSim([]voter.SimClient{
		{Name: "gps", Server: s.Addr("main"), Password: "gpw", HostPassword: "hostpw", Master: true},
		{Name: "alice", Server: s.Addr("main"), Password: "apw", HostPassword: "hostpw"}})
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-simDone })
	admin := adminapi.NewServer("voter serve", "test", nil, nil)
	if err := s.Register(admin, ""); err != nil {
		t.Fatal(err)
	}
	if err := admin.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = admin.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served })
	testutil.Eventually(t, 5*time.Second, "the simulated clients connected", sim.Connected)
	out, code := runCLI(t, "voter", "ping", "--admin", admin.Addr(), "alice", "3")
	if code != exitOK || !strings.Contains(out, "PING (alice): Packets tx: 3, rx: 3, oos: 0") ||
		!strings.Contains(out, "100.0% Packets successfully received (0.0% loss)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if out, code := runCLI(t, "voter", "ping", "--admin", admin.Addr(), "nobody"); code != exitFailed {
		t.Errorf("unknown client: exit %d:\n%s", code, out)
	}
	// --json prints the result and keeps the exit status of the text form
	out, code = runCLI(t, "voter", "ping", "--admin", admin.Addr(), "--json", "alice", "2")
	var r voter.PingResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != exitOK || r.Sent != 2 || r.Received != 2 {
		t.Errorf("--json: exit %d, %v:\n%s", code, err, out)
	}
	// a count out of range is refused with the range, not run (a negative
	// one aborted silently, a huge one overflowed the request's deadline)
	for _, n := range []string{"-1", "99999999999"} {
		if out, code := runCLI(t, "voter", "ping", "--admin", admin.Addr(), "alice", n); code != exitFailed ||
			!strings.Contains(out, "count must be a number from 0 (abort) to 10000") {
			t.Errorf("count %s: exit %d:\n%s", n, code, out)
		}
	}
}
