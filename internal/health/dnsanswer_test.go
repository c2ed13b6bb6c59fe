package health

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// TestDNSAnswerMustAnswerTheQuestion: a DNS check is OK only on records
// that answer its question: of its name (or of a name a CNAME chain in the
// answer leads to from it) and class IN. A server that answers with
// records of another name answered nothing.
func TestDNSAnswerMustAnswerTheQuestion(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	answers := map[string][]dns.RR{
		"other.example.test.": {rr("elsewhere.example.test. 60 IN A 192.0.2.10")},
		"chain.example.test.": {rr("mid.example.test. 60 IN CNAME www.example.test."), // out of order
			rr("www.example.test. 60 IN A 192.0.2.10"), rr("CHAIN.example.test. 60 IN CNAME mid.example.test.")},
		"broken.example.test.": {rr("broken.example.test. 60 IN CNAME mid.example.test."),
			rr("www.example.test. 60 IN A 192.0.2.10")}, // the chain does not reach www
		"loop.example.test.": {rr("loop.example.test. 60 IN CNAME x.example.test."),
			rr("x.example.test. 60 IN CNAME loop.example.test.")},
		"chaos.example.test.": {rr("chaos.example.test. 60 CH A 192.0.2.10")},
		"case.example.test.":  {rr("CaSe.Example.Test. 60 IN A 192.0.2.10")},
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveDNS(t, &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = answers[r.Question[0].Name]
		if r.Question[0].Name == "rcode13.example.test." {
			m.Rcode = 13 // unassigned
		}
		_ = w.WriteMsg(m)
	})})
	tests := []struct {
		name, qname, value string
		ok                 bool
		reason             string
	}{
		{"record of another name", "other.example.test", "", false, "no A answer for other.example.test."},
		{"record of another name with value", "other.example.test", "192.0.2.10", false, "no A answer"},
		{"CNAME chain in any order", "chain.example.test", "192.0.2.10", true, "A 192.0.2.10"},
		{"chain that does not reach the record", "broken.example.test", "", false, "no A answer"},
		{"CNAME loop", "loop.example.test", "", false, "no A answer"},
		{"class CH", "chaos.example.test", "", false, "no A answer"},
		{"name in another case", "case.example.test", "192.0.2.10", true, "A 192.0.2.10"},
		{"unassigned rcode", "rcode13.example.test", "", false, "DNS rcode 13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Kind: "dns", Server: pc.LocalAddr().String(), Name: tt.qname, Value: tt.value}
			wantResult(t, check(t, c), tt.ok, tt.reason)
		})
	}
}

// TestDNSTCPAnswerToAnotherQuestion: a truncated UDP answer is asked again
// over TCP; a TCP reply to another question (or not a response) is an
// error, not an answer.
func TestDNSTCPAnswerToAnotherQuestion(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Skipf("TCP port of the UDP server taken: %v", err)
	}
	serveDNS(t, &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
		_ = w.WriteMsg(m)
	})})
	serveDNS(t, &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Question[0].Name = "other.example.test."
		a, _ := dns.NewRR("other.example.test. 60 IN A 192.0.2.10")
		m.Answer = []dns.RR{a}
		_ = w.WriteMsg(m)
	})})
	c := Config{Kind: "dns", Server: pc.LocalAddr().String(), Name: "www.example.test"}
	wantResult(t, check(t, c), false, "not an answer to the question")
}
