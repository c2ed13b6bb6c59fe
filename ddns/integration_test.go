package ddns

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/dnsupdate/bindtest"
	"github.com/redund/redund/internal/testutil"
)

// bindConfig is the cat scheme pushing to a real BIND over RFC 2136.
func bindConfig(t *testing.T, b *bindtest.Server, secret string, main, backup, sorry *page) *Config {
	c := catConfig(t, main, backup, sorry)
	c.Name = "cat." + strings.TrimSuffix(b.Zone, ".")
	c.Interval = config.Duration(100 * time.Millisecond)
	c.Provider = dnsupdate.Config{Kind: "rfc2136", Server: b.Addr, Zone: b.Zone, Timeout: config.Duration(500 * time.Millisecond),
		Key: &dnsupdate.TSIG{Name: b.KeyName, Secret: config.Secret(secret)}}
	c.Resolvers = []string{b.Addr}
	return c
}

func startReal(t *testing.T, c *Config) *Daemon {
	p, err := dnsupdate.New(c.Provider)
	if err != nil {
		t.Fatal(err)
	}
	return startDaemon(t, c, p)
}

// bindAnswer asks BIND what it serves for name.
func bindAnswer(b *bindtest.Server, name string) string {
	vals, err := dnsupdate.QueryValues(context.Background(), b.Addr, name, 1, time.Second, false)
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.Join(vals, ",")
}

func TestBINDFailover(t *testing.T) {
	b := bindtest.Start(t, "example.test", "cat 60 IN A 192.0.2.99")
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	c := bindConfig(t, b, b.KeySecret, main, backup, sorry)
	d := startReal(t, c)
	testutil.Eventually(t, 5*time.Second, "BIND answers main", func() bool { return bindAnswer(b, c.Name) == "192.0.2.1" })

	// kill main's page (status=ERR): within fall × interval plus a margin
	limit := time.Duration(c.Fall)*c.Interval.D() + time.Second
	main.ok.Store(false)
	took := testutil.Eventually(t, limit, "BIND answers backup", func() bool { return bindAnswer(b, c.Name) == "192.0.2.2" })
	t.Logf("failover %v (fall %d × interval %v, limit %v)", took, c.Fall, c.Interval, limit)

	main.ok.Store(true)
	testutil.Eventually(t, limit, "BIND answers main again", func() bool { return bindAnswer(b, c.Name) == "192.0.2.1" })

	testutil.Eventually(t, limit, "synced on main", func() bool {
		ss := d.Scheme("cat").Snapshot()
		return ss.InSync && ss.Decision.Server == "main"
	})
	main.flap.Store(true)
	start, pushes := main.hits.Load(), d.Scheme("cat").Snapshot().Pushes
	testutil.Eventually(t, 5*time.Second, "flapping checks", func() bool { return main.hits.Load()-start >= 12 })
	if got := d.Scheme("cat").Snapshot().Pushes; got != pushes || bindAnswer(b, c.Name) != "192.0.2.1" {
		t.Errorf("flapping faster than rise/fall changed the record: pushes %d → %d", pushes, got)
	}
	main.flap.Store(false)

	if err := d.SetMaintenance("cat", "main", true); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, limit, "maintenance → backup", func() bool { return bindAnswer(b, c.Name) == "192.0.2.2" })

	rep, err := Propagation(context.Background(), "cat", c, PropagationOptions{NSPort: portOf(b.Addr)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.AllAgree || len(rep.Answers) != 2 || rep.Zone != "example.test." || rep.Expected[0] != "192.0.2.2" {
		t.Errorf("propagation: %+v", rep)
	}
}

func TestBINDWrongKeyAndDownAreRetried(t *testing.T) {
	b := bindtest.Start(t, "example.test", "cat 60 IN A 192.0.2.99")
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	c := bindConfig(t, b, "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA==", main, backup, sorry)
	d := startReal(t, c)
	s := d.Scheme("cat")
	testutil.Eventually(t, 5*time.Second, "two failed attempts", func() bool {
		ss := s.Snapshot()
		return ss.Failures >= 2 && ss.Retry.Pending && strings.Contains(ss.LastError, "NOTAUTH")
	})
	if got := bindAnswer(b, c.Name); got != "192.0.2.99" {
		t.Errorf("BIND changed with a wrong key: %s", got)
	}

	// a primary that is down: nothing listens on the port
	dead := deadAddr(t)
	c2 := bindConfig(t, b, b.KeySecret, main, backup, sorry)
	c2.Provider.Server = dead
	d2 := startReal(t, c2)
	testutil.Eventually(t, 5*time.Second, "errors while BIND is down", func() bool {
		ss := d2.Scheme("cat").Snapshot()
		return ss.Failures >= 2 && ss.State == "Retrying"
	})
	doc := d2.Status()[0]
	if doc.State != "Retrying" || !strings.Contains(doc.Reason, dead) {
		t.Errorf("status while down: %s %q", doc.State, doc.Reason)
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// deadAddr is a loopback UDP port with nothing listening.
func deadAddr(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// TestBINDNameIsACNAME: the name to set is a CNAME on the primary. BIND
// would answer NOERROR to the update and ignore it, and the CNAME's
// target's address answers a query for the name: the scheme must say
// Retrying, naming the CNAME, and never Synced.
func TestBINDNameIsACNAME(t *testing.T) {
	b := bindtest.Start(t, "example.test", "cat 60 IN CNAME old.example.test.", "old 60 IN A 192.0.2.1")
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	c := bindConfig(t, b, b.KeySecret, main, backup, sorry)
	d := startReal(t, c)
	s := d.Scheme("cat")
	testutil.Eventually(t, 5*time.Second, "Retrying, naming the CNAME", func() bool {
		ss := s.Snapshot()
		return ss.State == StateRetrying && strings.Contains(ss.LastError, "is a CNAME (to old.example.test.)")
	})
	if ss := s.Snapshot(); ss.InSync || ss.Pushes != 0 {
		t.Errorf("status: in_sync %v, pushes %d; want neither", ss.InSync, ss.Pushes)
	}
}
