package gateway

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redund/redund/internal/testutil"
)

func TestMain(m *testing.M) {
	// hooks run under a reaper, this test binary run again: built with
	// -race it would wait a second at exit (atexit_sleep_ms) in every hook
	if _, ok := os.LookupEnv("GORACE"); !ok {
		_ = os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	code := m.Run()
	if pgStop != nil {
		pgStop()
	}
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestConfigReplicatesAndBackupRefusesWrites(t *testing.T) {
	m, b, _ := pair(t, nil)
	if _, err := m.SetConfig("tags/pump1", []byte(`{"scan":"1s"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetState("alarms/pump1", []byte("ACTIVE")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 3*time.Second, "config and state on the backup", func() bool {
		return docValue(t, b, ProvConfig, "tags/pump1") == `{"scan":"1s"}` && docValue(t, b, ProvState, "alarms/pump1") == "ACTIVE"
	})
	_, err := b.SetConfig("tags/pump2", []byte("x"))
	var ref *RefusedError
	if !errors.As(err, &ref) || !strings.Contains(err.Error(), "configuration is changed on the master") {
		t.Fatalf("backup accepted a config write or wrong error: %v", err)
	}
	if _, err := b.SetState("alarms/x", []byte("1")); !errors.As(err, &ref) {
		t.Fatalf("standby accepted a state write: %v", err)
	}
	if _, err := b.DeleteConfig("tags/pump1"); err == nil {
		t.Fatal("backup accepted a config delete")
	}
	if _, err := b.PostHistory([]Point{{Tag: "flow", TSMS: 1, Value: 1}}); !errors.As(err, &ref) {
		t.Fatalf("standby accepted history: %v", err)
	}
	if _, err := m.PostHistory([]Point{{Tag: "", TSMS: 1}}); err == nil || !strings.Contains(err.Error(), "point 0: tag and ts_ms are required") {
		t.Fatalf("a point without a tag: %v", err)
	}
	if docValue(t, b, ProvConfig, "tags/pump2") != "<missing>" {
		t.Fatal("refused write is visible")
	}
	if d := b.Detail(); !d.PeerConnected || d.PeerRole != RoleActive {
		t.Fatalf("backup detail %+v", d)
	}
}

func TestFailoverThenAutomaticRecovery(t *testing.T) {
	m, b, addr := pair(t, nil)
	m.SetState("alarms/a", []byte("ACK"))
	m.SetConfig("site", []byte("plant-7"))
	testutil.Eventually(t, 3*time.Second, "state and config on backup", func() bool {
		return docValue(t, b, ProvState, "alarms/a") == "ACK" && docValue(t, b, ProvConfig, "site") == "plant-7"
	})
	m.stop()
	took := waitRole(t, b, RoleActive, 3*time.Second)
	if took > m.cfg.FailoverTimeout.D()+500*time.Millisecond {
		t.Fatalf("failover took %v with failover_timeout %v", took, m.cfg.FailoverTimeout)
	}
	if docValue(t, b, ProvState, "alarms/a") != "ACK" || docValue(t, b, ProvConfig, "site") != "plant-7" {
		t.Fatal("state or config lost on failover")
	}
	if _, err := b.SetState("alarms/b", []byte("NEW")); err != nil {
		t.Fatalf("active backup refused state: %v", err)
	}
	mc := m.cfg
	mc.JoinWait = 5_000_000_000 // the backup redials within its backoff
	m2 := startGW(t, mc, listen(t, addr))
	waitRole(t, m2, RoleActive, 5*time.Second)
	waitRole(t, b, RoleStandby, 2*time.Second)
	if docValue(t, m2, ProvState, "alarms/b") != "NEW" {
		t.Fatal("state written on the active backup did not reach the master before it took control")
	}
	m2.SetState("alarms/c", []byte("x"))
	testutil.Eventually(t, 3*time.Second, "state flows master → backup again", func() bool { return docValue(t, b, ProvState, "alarms/c") == "x" })
}

func TestManualRecoveryAndForcedFailover(t *testing.T) {
	m, b, addr := pair(t, func(mc, _ *Config) { mc.Recovery = RecoveryManual })
	m.stop()
	waitRole(t, b, RoleActive, 3*time.Second)
	mc := m.cfg
	mc.JoinWait = 5_000_000_000
	m2 := startGW(t, mc, listen(t, addr))
	waitRole(t, m2, RoleStandby, 5*time.Second)
	time.Sleep(300 * time.Millisecond) // sleep: manual recovery: nothing moves by itself
	if m2.Role() != RoleStandby || b.Role() != RoleActive {
		t.Fatalf("manual recovery moved roles: master %s backup %s", m2.Role(), b.Role())
	}
	msg, err := m2.Failover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(msg)
	waitRole(t, m2, RoleActive, 3*time.Second)
	waitRole(t, b, RoleStandby, 3*time.Second)
	// and back again, initiated on the active node
	if _, err := m2.Failover(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitRole(t, b, RoleActive, 3*time.Second)
	waitRole(t, m2, RoleStandby, 3*time.Second)
}

func TestBackupFarBehindGetsFullSync(t *testing.T) {
	m, b, _ := pair(t, func(mc, _ *Config) { mc.DiskCache = 64 << 10 })
	m.SetConfig("first", []byte("1"))
	testutil.Eventually(t, 3*time.Second, "first doc", func() bool { return docValue(t, b, ProvConfig, "first") == "1" })
	bcfg := b.cfg
	b.stop()
	val := strings.Repeat("v", 200)
	for i := range 1000 {
		if _, err := m.SetConfig(fmt.Sprintf("doc/%04d", i%300), []byte(val)); err != nil {
			t.Fatal(err)
		}
	}
	b2 := startGW(t, bcfg, nil)
	waitRole(t, b2, RoleStandby, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "converged", func() bool {
		a, _ := m.ListDocs(ProvConfig, "")
		c, _ := b2.ListDocs(ProvConfig, "")
		return len(a) == len(c) && fmt.Sprint(a) == fmt.Sprint(c)
	})
	found := false
	for _, e := range b2.Detail().Replica {
		if e.Kind == "full_sync_needed" && strings.Contains(e.Message, "too far behind") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no too-far-behind event: %+v", b2.Detail().Replica)
	}
}

func TestGarbageOnPeerPortLeavesNodeUnaffected(t *testing.T) {
	m, b, addr := pair(t, nil)
	for _, junk := range []string{"hello\r\n", "\x00\x00\x00\x09\x01RDP1\x09zzzz", strings.Repeat("\xff", 100)} {
		sendGarbage(t, addr, junk)
	}
	if m.Role() != RoleActive || b.Role() != RoleStandby || !b.Detail().PeerConnected {
		t.Fatalf("garbage disturbed the pair: master %s backup %s", m.Role(), b.Role())
	}
	m.SetConfig("after-garbage", []byte("ok"))
	testutil.Eventually(t, 3*time.Second, "replication still works", func() bool { return docValue(t, b, ProvConfig, "after-garbage") == "ok" })
	if m.Detail().Link.Dropped < 3 {
		t.Fatalf("dropped = %d", m.Detail().Link.Dropped)
	}
}
