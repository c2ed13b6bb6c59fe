package health

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
)

const testZone = `
www.example.test.   60 IN A     192.0.2.10
www.example.test.   60 IN A     192.0.2.11
v6.example.test.    60 IN AAAA  2001:db8::1
alias.example.test. 60 IN CNAME www.example.test.
txt.example.test.   60 IN TXT   "status=" "OK"
_sip._udp.example.test. 60 IN SRV 10 5 5060 sip1.example.test.
`

// startDNS serves testZone over UDP on 127.0.0.1:0 and returns its address.
func startDNS(t *testing.T) string {
	t.Helper()
	records := map[dns.Question][]dns.RR{}
	names := map[string]bool{}
	zp := dns.NewZoneParser(strings.NewReader(testZone), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		q := dns.Question{Name: rr.Header().Name, Qtype: rr.Header().Rrtype, Qclass: dns.ClassINET}
		records[q] = append(records[q], rr)
		names[q.Name] = true
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveDNS(t, &dns.Server{PacketConn: pc,
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			q := r.Question[0]
			m.Answer = records[q]
			if len(m.Answer) == 0 { // a CNAME, not followed
				m.Answer = records[dns.Question{Name: q.Name, Qtype: dns.TypeCNAME, Qclass: q.Qclass}]
			}
			if !names[q.Name] {
				m.Rcode = dns.RcodeNameError
			}
			_ = w.WriteMsg(m)
		})})
	return pc.LocalAddr().String()
}

func TestDNS(t *testing.T) {
	server := startDNS(t)
	tests := []struct {
		name, qname, qtype, value string
		ok                        bool
		reason                    string
	}{
		{"A default type", "www.example.test", "", "", true, "A 192.0.2.10, 192.0.2.11"},
		{"A value", "www.example.test.", "A", "192.0.2.11", true, "A 192.0.2.10"},
		{"A wrong value", "www.example.test", "A", "192.0.2.99", false,
			`no A answer equal to "192.0.2.99" (got 192.0.2.10, 192.0.2.11)`},
		{"AAAA value", "v6.example.test", "aaaa", "2001:DB8:0::1", true, "AAAA 2001:db8::1"},
		{"CNAME value", "alias.example.test", "CNAME", "WWW.example.test", true, "CNAME www.example.test."},
		{"TXT value", "txt.example.test", "TXT", "status=OK", true, "TXT status=OK"},
		{"SRV value", "_sip._udp.example.test", "SRV", "10 5 5060 sip1.example.test", true, "SRV 10 5 5060"},
		{"SRV wrong port", "_sip._udp.example.test", "SRV", "10 5 5061 sip1.example.test.", false, "no SRV answer"},
		{"no answer of type", "www.example.test", "AAAA", "", false, "no AAAA answer for www.example.test."},
		{"nxdomain", "nope.example.test", "A", "", false, "DNS NXDOMAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Kind: "dns", Server: server, Name: tt.qname, Type: tt.qtype, Value: tt.value}
			wantResult(t, check(t, c), tt.ok, tt.reason)
		})
	}
}

// TestDNSNoAnswerOfType: the server answers, but with a CNAME and no record
// of the asked type.
func TestDNSNoAnswerOfType(t *testing.T) {
	server := startDNS(t)
	c := Config{Kind: "dns", Server: server, Name: "alias.example.test", Type: "A"}
	wantResult(t, check(t, c), false, "no A answer for alias.example.test.")
	c = Config{Kind: "dns", Server: server, Name: "alias.example.test", Type: "CNAME", Value: "other.test"}
	wantResult(t, check(t, c), false, `no CNAME answer equal to "other.test"`)
}

// TestDNSSilent: a UDP socket that never answers; the query ends at the timeout.
func TestDNSSilent(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	start := time.Now()
	c := Config{Kind: "dns", Server: pc.LocalAddr().String(), Name: "www.example.test",
		Timeout: config.Duration(200 * time.Millisecond)}
	wantResult(t, check(t, c), false, "timeout after 200ms")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %s, want about 200ms", d)
	}
}

func TestDNSServerDefaultPort(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1":      "127.0.0.1:53",
		"127.0.0.1:5353": "127.0.0.1:5353",
		"ns1.example":    "ns1.example:53",
		"::1":            "[::1]:53",
		"[::1]":          "[::1]:53",
		"[::1]:5300":     "[::1]:5300",
	} {
		t.Run(in, func(t *testing.T) {
			if got := newDNS(Config{Kind: "dns", Server: in, Name: "x."}).server; got != want {
				t.Errorf("server %q is asked at %q, want %q", in, got, want)
			}
		})
	}
}

// TestDNSTruncatedRetriesTCP: a UDP answer with TC set is asked again over
// TCP at the same address.
func TestDNSTruncatedRetriesTCP(t *testing.T) {
	pc, ln := udpTCPPair(t)
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if w.LocalAddr().Network() == "udp" {
			m.Truncated = true
		} else {
			rr, _ := dns.NewRR("big.example.test. 60 IN TXT \"over tcp\"")
			m.Answer = []dns.RR{rr}
		}
		_ = w.WriteMsg(m)
	})
	serveDNS(t, &dns.Server{PacketConn: pc, Handler: handler})
	serveDNS(t, &dns.Server{Listener: ln, Handler: handler})
	c := Config{Kind: "dns", Server: pc.LocalAddr().String(), Name: "big.example.test", Type: "TXT", Value: "over tcp"}
	wantResult(t, check(t, c), true, "TXT over tcp")
}

// udpTCPPair listens on UDP and TCP at the same loopback port.
func udpTCPPair(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close() // TCP port taken: try another
	}
	t.Fatal("no free UDP+TCP port pair")
	return nil, nil
}

// serveDNS starts srv, waits until it serves and stops it at cleanup.
func serveDNS(t *testing.T, srv *dns.Server) {
	t.Helper()
	ready := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(ready) }
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ActivateAndServe() }()
	<-ready
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
}
