package dnsupdate_test

import (
	"context"
	"errors"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/dnsupdate/bindtest"
)

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("NewRR(%q): %v", s, err)
	}
	return r
}

func client(s *bindtest.Server) *dnsupdate.RFC2136 {
	return &dnsupdate.RFC2136{Server: s.Addr, Zone: s.Zone, Timeout: 3 * time.Second,
		Key: &dnsupdate.TSIG{Name: s.KeyName, Secret: config.Secret(s.KeySecret)}}
}

func answers(t *testing.T, c *dnsupdate.RFC2136, name string, qtype uint16) []string {
	t.Helper()
	rrs, err := c.Query(context.Background(), name, qtype)
	if err != nil {
		t.Fatalf("Query %s: %v", name, err)
	}
	var out []string
	for _, r := range rrs {
		out = append(out, strings.ReplaceAll(r.String(), "\t", " "))
	}
	sort.Strings(out)
	return out
}

func TestRFC2136AgainstBIND(t *testing.T) {
	s := bindtest.Start(t, "example.test", "old 300 IN A 192.0.2.9")
	c := client(s)
	ctx := context.Background()
	srv1 := rr(t, "_sip._udp.east.example.test. 60 IN SRV 10 50 5060 ms1.example.test.")
	srv2 := rr(t, "_sip._udp.east.example.test. 60 IN SRV 20 50 5060 ms2.example.test.")
	if err := c.Update(ctx, nil, []dns.RR{srv1, srv2}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	got := answers(t, c, "_sip._udp.east.example.test", dns.TypeSRV)
	if len(got) != 2 || !strings.Contains(got[0], "10 50 5060 ms1") {
		t.Fatalf("after insert: %q", got)
	}
	// replace the RRset: remove by name+type, insert one record
	srv3 := rr(t, "_sip._udp.east.example.test. 60 IN SRV 5 0 5061 ms3.example.test.")
	if err := c.Update(ctx, []dns.RR{srv1, srv2}, []dns.RR{srv3}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	got = answers(t, c, "_sip._udp.east.example.test", dns.TypeSRV)
	if len(got) != 1 || !strings.Contains(got[0], "5 0 5061 ms3.example.test.") {
		t.Fatalf("after replace: %q", got)
	}
	if srv1.Header().Class != dns.ClassINET || srv1.Header().Ttl != 60 {
		t.Errorf("Update modified the caller's RR: %v", srv1)
	}
	// delete only
	if err := c.Update(ctx, []dns.RR{rr(t, "old.example.test. 0 IN A 0.0.0.0")}, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := answers(t, c, "old.example.test", dns.TypeA); len(got) != 0 {
		t.Fatalf("after delete: %q", got)
	}
}

func TestRFC2136MixedCaseKeyName(t *testing.T) {
	s := bindtest.Start(t, "example.test")
	c := client(s)
	c.Key.Name = "DDNS-Key" // not fully qualified, mixed case (miekg/dns #572)
	if err := c.Update(context.Background(), nil, []dns.RR{rr(t, "a.example.test. 60 IN A 192.0.2.1")}); err != nil {
		t.Fatalf("update with mixed-case key name: %v", err)
	}
}

func TestRFC2136LargeUpdateUsesTCP(t *testing.T) {
	s := bindtest.Start(t, "example.test")
	c := client(s)
	var ins []dns.RR
	for i := 0; i < 60; i++ {
		ins = append(ins, &dns.TXT{Hdr: dns.RR_Header{Name: "big.example.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{strings.Repeat("x", 20) + string(rune('A'+i%26)) + strings.Repeat("y", i)}})
	}
	if err := c.Update(context.Background(), nil, ins); err != nil {
		t.Fatalf("large update: %v", err)
	}
	if got := answers(t, c, "big.example.test", dns.TypeTXT); len(got) != 60 {
		t.Fatalf("got %d TXT records, want 60 (reply needs TCP too)", len(got))
	}
}

func TestRFC2136Rejections(t *testing.T) {
	s := bindtest.Start(t, "example.test")
	ins := []dns.RR{rr(t, "x.example.test. 60 IN A 192.0.2.1")}
	tests := []struct {
		name string
		edit func(c *dnsupdate.RFC2136)
		want []string
	}{
		{"wrong secret", func(c *dnsupdate.RFC2136) { c.Key.Secret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=" }, []string{"NOTAUTH", "BADSIG"}},
		{"unknown key", func(c *dnsupdate.RFC2136) { c.Key.Name = "other-key." }, []string{"NOTAUTH", "BADKEY"}},
		{"unsigned", func(c *dnsupdate.RFC2136) { c.Key = nil }, []string{"REFUSED"}},
		{"clock skew", func(c *dnsupdate.RFC2136) { c.Now = func() time.Time { return time.Now().Add(-time.Hour) } }, []string{"NOTAUTH", "BADTIME"}},
		{"wrong zone", func(c *dnsupdate.RFC2136) { c.Zone = "other.test." }, []string{"NOTAUTH"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := client(s)
			tc.edit(c)
			err := c.Update(context.Background(), nil, ins)
			var re *dnsupdate.RcodeError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want an RcodeError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

func TestRFC2136Timeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // answers nothing
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := &dnsupdate.RFC2136{Server: pc.LocalAddr().String(), Zone: "example.test", Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err = c.Query(context.Background(), "x.example.test", dns.TypeA)
	if err == nil {
		t.Fatal("query to a silent server succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("query took %s, want about the 300ms timeout", d)
	}
}

// fakeServer answers every query with a truncated reply over UDP and a
// full one over TCP, counting each.
func fakeServer(t *testing.T, rcode int) (addr string, udp, tcp *atomic.Int32) {
	udp, tcp = new(atomic.Int32), new(atomic.Int32)
	pc, l := udpTCPPair(t)
	h := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		if _, ok := w.RemoteAddr().(*net.UDPAddr); ok {
			udp.Add(1)
			m.Truncated = true
		} else {
			tcp.Add(1)
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(192, 0, 2, 7)}}
		}
		_ = w.WriteMsg(m)
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: dns.HandlerFunc(h)}, {Listener: l, Handler: dns.HandlerFunc(h)}} {
		ready := make(chan struct{})
		s.NotifyStartedFunc = func() { close(ready) }
		s.MsgAcceptFunc = func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept } // UPDATE too
		go func() { _ = s.ActivateAndServe() }()
		<-ready
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return pc.LocalAddr().String(), udp, tcp
}

// udpTCPPair listens on one loopback port for both UDP and TCP, retrying
// when another process holds the TCP side of a free UDP port.
func udpTCPPair(t *testing.T) (net.PacketConn, net.Listener) {
	for i := 0; i < 20; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

func TestRFC2136TruncatedRetriesOverTCP(t *testing.T) {
	addr, udp, tcp := fakeServer(t, dns.RcodeSuccess)
	c := &dnsupdate.RFC2136{Server: addr, Zone: "example.test", Timeout: 2 * time.Second}
	rrs, err := c.Query(context.Background(), "x.example.test", dns.TypeA)
	if err != nil || len(rrs) != 1 {
		t.Fatalf("Query = %v, %v", rrs, err)
	}
	if udp.Load() != 1 || tcp.Load() != 1 {
		t.Fatalf("udp=%d tcp=%d, want 1 and 1", udp.Load(), tcp.Load())
	}
}

func TestRFC2136RcodeText(t *testing.T) {
	addr, _, _ := fakeServer(t, dns.RcodeRefused)
	c := &dnsupdate.RFC2136{Server: addr, Zone: "example.test", Timeout: 2 * time.Second, Net: "tcp"}
	err := c.Update(context.Background(), nil, []dns.RR{rr(t, "x.example.test. 60 IN A 192.0.2.1")})
	if err == nil || !strings.Contains(err.Error(), "REFUSED") || !strings.HasPrefix(err.Error(), "dnsupdate: update at ") {
		t.Fatalf("err = %v, want dnsupdate: update at ...: REFUSED", err)
	}
}

func TestTSIGValidate(t *testing.T) {
	tests := []struct {
		key  dnsupdate.TSIG
		want string // "" = valid
	}{
		{dnsupdate.TSIG{Name: "ddns-key.", Secret: "c2VjcmV0"}, ""},
		{dnsupdate.TSIG{Name: "k", Algorithm: "HMAC-SHA512", Secret: "c2VjcmV0"}, ""},
		{dnsupdate.TSIG{Secret: "c2VjcmV0"}, "name: TSIG key name is required"},
		{dnsupdate.TSIG{Name: "k", Algorithm: "hmac-md5", Secret: "c2VjcmV0"}, `algorithm: unknown TSIG algorithm "hmac-md5"`},
		{dnsupdate.TSIG{Name: "k"}, "secret: TSIG secret is required"},
		{dnsupdate.TSIG{Name: "k", Secret: "not base64!"}, "secret: TSIG secret must be base64"},
	}
	for _, tc := range tests {
		t.Run("name="+tc.key.Name+",algorithm="+tc.key.Algorithm+",secret="+string(tc.key.Secret), func(t *testing.T) {
			err := tc.key.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%+v: unexpected error %v", tc.key, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%+v: error %v, want %q", tc.key, err, tc.want)
			}
		})
	}
	if got := (&dnsupdate.TSIG{Name: "DDNS-Key"}).KeyName(); got != "ddns-key." {
		t.Errorf("KeyName = %q", got)
	}
}

func TestRFC2136BigUpdateGoesStraightToTCP(t *testing.T) {
	addr, udp, tcp := fakeServer(t, dns.RcodeSuccess)
	c := &dnsupdate.RFC2136{Server: addr, Zone: "example.test", Timeout: 2 * time.Second}
	var ins []dns.RR
	for i := 0; i < 30; i++ {
		ins = append(ins, rr(t, "big.example.test. 60 IN TXT \"0123456789012345678901234567890123456789\""))
	}
	if err := c.Update(context.Background(), nil, ins); err != nil {
		t.Fatal(err)
	}
	if udp.Load() != 0 || tcp.Load() != 1 {
		t.Fatalf("udp=%d tcp=%d, want a message over 512 bytes sent over TCP only", udp.Load(), tcp.Load())
	}
}
