package voter

import (
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// A client with a wrong password gets the server's auth reply (our digest,
// flags 0), as chan_voter answers any unknown digest: that is not a login.
// The simulator must not count it as connected, while a client with the
// right password next to it is. A wrong host password never connects.
func TestSimWrongPasswordNotConnected(t *testing.T) {
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", "",
		map[string]*ClientConfig{"master": {Password: "mpw", Master: true}, "alice": cl("apw"), "bob": cl("bpw")})})
	addr := srv.Addr("main")
	m := sim("master", "mpw", addr)
	m.Master = true
	good := sim("alice", "apw", addr)
	wrong := sim("bob", "not-bobs", addr)
	host := sim("bob", "bpw", addr)
	host.HostPassword = "wrong-host"
	s := startSim(t, m, good, wrong, host)
	testutil.Eventually(t, 5*time.Second, "alice connected", func() bool { st := s.Status(); return st[0].Connected && st[1].Connected })
	// give the wrong ones as long again as the good one needed, and then
	// some: the server answers them every 200 ms
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		st := s.Status()
		if st[2].Connected || st[3].Connected {
			t.Fatalf("wrong password %v, wrong host password %v: want neither connected", st[2].Connected, st[3].Connected)
		}
		time.Sleep(20 * time.Millisecond) // sleep: sampling interval of a window in which the wrong ones must not connect
	}
	if bad, all := s.NotConnected(); bad != 2 || all != 4 {
		t.Errorf("NotConnected = %d of %d, want 2 of 4", bad, all)
	}
	if srv.Stats("main")["unknown_digest"] == 0 {
		t.Error("the server saw no unknown digest: the wrong client never sent with its digest")
	}
}
