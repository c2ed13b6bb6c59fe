package srv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate/bindtest"
	"github.com/redund/redund/internal/testutil"
)

// mediaServer is a fake media server on loopback: a SIP responder on UDP
// and plain listeners for tcp and tls (a connect is all the probe does).
type mediaServer struct{ udp, tcp, tls int }

func startMediaServer(t *testing.T) mediaServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go sipResponder(pc)
	ms := mediaServer{udp: pc.LocalAddr().(*net.UDPAddr).Port}
	for _, p := range []*int{&ms.tcp, &ms.tls} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		*p = l.Addr().(*net.TCPAddr).Port
	}
	return ms
}

// sipResponder answers every request with 200 OK, as a SIP server does.
func sipResponder(pc net.PacketConn) {
	buf := make([]byte, 8192)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteTo(sipReply(buf[:n], "200 OK", nil), from)
	}
}

// sipReply builds the response a UAS sends to req (RFC 3261 section
// 8.2.6.2): the status line, then req's Via, From, To, Call-ID and CSeq
// headers copied, each passed through edit (nil: unchanged) first.
func sipReply(req []byte, status string, edit func(line string) string) []byte {
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\r\n")
	for _, l := range strings.Split(string(req), "\r\n") {
		name, _, _ := strings.Cut(l, ":")
		switch name {
		case "Via", "From", "To", "Call-ID", "CSeq":
			if edit != nil {
				l = edit(l)
			}
			b.WriteString(l + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// liveConfig is a three-zone table pushed to s, with targets on loopback.
func liveConfig(s *bindtest.Server, ms []mediaServer, westOrder string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[srv]\ndomain = \"sip.example.test\"\ntransports = [\"udp\", \"tcp\", \"tls\"]\nnaptr = true\nnot_offered = true\ntimeout = \"1s\"\n")
	for i, m := range ms {
		fmt.Fprintf(&b, "[[srv.targets]]\nname = \"ms%d\"\nhost = \"ms%d.example.test\"\nudp = %d\ntcp = %d\ntls = %d\n", i+1, i+1, m.udp, m.tcp, m.tls)
	}
	fmt.Fprintf(&b, "[[srv.zones]]\nname = \"east\"\norder = [\"ms1\", \"ms2\", \"ms3\"]\n")
	fmt.Fprintf(&b, "[[srv.zones]]\nname = \"west\"\norder = [%s]\n", westOrder)
	fmt.Fprintf(&b, "[[srv.zones]]\nname = \"central\"\n[[srv.zones.targets]]\ntarget = \"ms2\"\npriority = 10\nweight = 60\n[[srv.zones.targets]]\ntarget = \"ms1\"\npriority = 10\nweight = 40\n")
	fmt.Fprintf(&b, "[srv.push]\nserver = %q\nzone = \"example.test\"\n[srv.push.tsig]\nname = %q\nsecret = %q\n", s.Addr, s.KeyName, s.KeySecret)
	return b.String()
}

func startBIND(t *testing.T) (*bindtest.Server, []mediaServer) {
	s := bindtest.Start(t, "example.test",
		"ms1 IN A 127.0.0.1", "ms2 IN A 127.0.0.1", "ms3 IN A 127.0.0.1", "alias IN CNAME ms1")
	return s, []mediaServer{startMediaServer(t), startMediaServer(t), startMediaServer(t)}
}

func push(t *testing.T, c *Config) int {
	t.Helper()
	ctx := context.Background()
	cl := c.Push.Client(c.Domain)
	changes, total, err := Plan(ctx, c, cl, 8)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	var plan bytes.Buffer
	WritePlan(&plan, cl, changes, total)
	if err := Apply(ctx, cl, changes); err != nil {
		t.Fatalf("apply: %v\nplan:\n%s", err, plan.String())
	}
	return len(changes)
}

func check(t *testing.T, c *Config) *CheckReport {
	t.Helper()
	rep, err := Check(context.Background(), c, CheckOptions{Probe: true})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	// --json prints [] for an empty list (docs/srv.md), never null
	if nils := testutil.NilLists(rep); len(nils) > 0 {
		t.Errorf("lists that --json prints as null: %v", nils)
	}
	return rep
}

// TestBINDPushCheckCycle: push → check passes → config changes → check
// reports exactly the differences → push changes only those → check passes.
func TestBINDPushCheckCycle(t *testing.T) {
	s, ms := startBIND(t)
	c := loadString(t, liveConfig(s, ms, `"ms3", "ms2", "ms1"`))
	if n := push(t, c); n != len(Generate(c)) {
		t.Fatalf("first push changed %d RRsets, want all %d", n, len(Generate(c)))
	}
	if rep := check(t, c); !rep.OK() || rep.Probes != 9 || rep.Hosts != 3 {
		t.Fatalf("check after push: %+v", rep)
	}
	if n := push(t, c); n != 0 {
		t.Fatalf("second push changed %d RRsets, want 0", n)
	}
	live, err := Explain(context.Background(), c, OrderNames(c, "central"), OrderOptions{Resolver: s.Addr, Timeout: time.Second})
	if err != nil || len(live) != 3 || live[0].Source != "dns "+s.Addr {
		t.Fatalf("order from DNS: %+v, %v", live, err)
	}
	if g := live[0].Groups; len(g) != 1 || len(g[0].Choices) != 2 || g[0].Choices[0].Den != 101 {
		t.Fatalf("central from DNS: %+v, want one group of two, weights 60+40", g)
	}
	c2 := loadString(t, liveConfig(s, ms, `"ms2", "ms3"`))
	rep := check(t, c2)
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.String())
	}
	want := []string{
		"_sip._udp.west.sip.example.test. SRV: ms3.example.test. has priority 10, want 20",
		"_sip._udp.west.sip.example.test. SRV: ms2.example.test. has priority 20, want 10",
		"_sip._udp.west.sip.example.test. SRV: extra 30 10 " + fmt.Sprint(ms[0].udp) + " ms1.example.test.",
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("check findings lack %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != 9 { // three findings for each of udp, tcp, tls in west
		t.Errorf("%d findings, want 9:\n%s", len(got), strings.Join(got, "\n"))
	}
	if n := push(t, c2); n != 3 {
		t.Fatalf("push after change replaced %d RRsets, want the 3 of west", n)
	}
	if rep := check(t, c2); !rep.OK() {
		t.Fatalf("check after second push: %v", rep.Findings)
	}
}

func TestBINDWrongSecret(t *testing.T) {
	s, ms := startBIND(t)
	c := loadString(t, liveConfig(s, ms, `"ms3"`))
	c.Push.TSIG.Secret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE="
	cl := c.Push.Client(c.Domain)
	// queries are signed too, so the plan (and --dry-run) already fails
	_, _, err := Plan(context.Background(), c, cl, 4)
	if err == nil {
		t.Fatal("plan with a wrong secret succeeded")
	}
	if !strings.Contains(err.Error(), "NOTAUTH") || !strings.Contains(err.Error(), "BADSIG") {
		t.Fatalf("plan err = %v, want NOTAUTH (TSIG BADSIG)", err)
	}
	err = Apply(context.Background(), cl, []Change{{Set: Generate(c)[0]}})
	if err == nil || !strings.Contains(err.Error(), "NOTAUTH") || !strings.Contains(err.Error(), "BADSIG") {
		t.Fatalf("err = %v, want NOTAUTH (TSIG BADSIG)", err)
	}
}

func TestBINDCheckTargetProblems(t *testing.T) {
	s, ms := startBIND(t)
	src := liveConfig(s, ms, `"ms3"`)
	src = strings.Replace(src, `host = "ms3.example.test"`, `host = "alias.example.test"`, 1)
	src = strings.Replace(src, `host = "ms2.example.test"`, `host = "gone.example.test"`, 1)
	c := loadString(t, src)
	push(t, c)
	rep := check(t, c)
	all := fmt.Sprint(rep.Findings)
	for _, w := range []string{"alias.example.test. A/AAAA: is a CNAME to ms1.example.test.", "gone.example.test. A/AAAA: does not resolve"} {
		if !strings.Contains(all, w) {
			t.Errorf("findings lack %q: %s", w, all)
		}
	}
}

// TestZoneOutputAcceptedByBIND: named-checkzone accepts the zone format
// inside a zone, and nsupdate applies the nsupdate format (check passes).
func TestZoneOutputAcceptedByBIND(t *testing.T) {
	s, ms := startBIND(t)
	c := loadString(t, liveConfig(s, ms, `"ms3", "ms1"`))
	var zone, script bytes.Buffer
	if err := Write(&zone, FormatZone, c, Generate(c)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "db.example.test")
	head := "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\nms1 IN A 127.0.0.1\nms2 IN A 127.0.0.1\nms3 IN A 127.0.0.1\n"
	if err := os.WriteFile(file, append([]byte(head), zone.Bytes()...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := bindtest.CheckZone(t, "example.test", file); err != nil {
		t.Fatalf("named-checkzone rejected the zone output: %v\n%s", err, out)
	}
	nsupdate, err := exec.LookPath("nsupdate")
	if err != nil {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatal("nsupdate not found (apt-get install -y bind9-dnsutils)")
		}
		t.Skip("nsupdate not found; install bind9-dnsutils")
	}
	if err := Write(&script, FormatNSUpdate, c, Generate(c)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nsupdate, "-y", "hmac-sha256:"+s.KeyName+":"+s.KeySecret)
	cmd.Stdin = &script
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsupdate rejected the script: %v\n%s", err, out)
	}
	if rep := check(t, c); !rep.OK() {
		t.Fatalf("check after nsupdate: %v", rep.Findings)
	}
}

// TestBINDNotOfferedDotRecords pushes "." records and NAPTR for a zone that
// serves udp only, and checks them back.
func TestBINDNotOfferedDotRecords(t *testing.T) {
	s, ms := startBIND(t)
	src := liveConfig(s, ms, `"ms3"`)
	src = strings.Replace(src, `transports = ["udp", "tcp", "tls"]`, `transports = ["udp"]`, 1)
	c := loadString(t, src)
	push(t, c)
	rrs, err := c.Push.Client(c.Domain).Query(context.Background(), "_sips._tcp.west.sip.example.test", dns.TypeSRV)
	if err != nil || len(rrs) != 1 || rdata(rrs[0]) != "0 0 0 ." {
		t.Fatalf("tls of west: %v, %v; want the . record", rrs, err)
	}
	if rep := check(t, c); !rep.OK() || rep.RRSets != 12 {
		t.Fatalf("check: %d RRsets, findings %v", rep.RRSets, rep.Findings)
	}
}
