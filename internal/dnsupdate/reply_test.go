package dnsupdate_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate"
)

// mangleServer is a real UDP DNS server on loopback that answers every
// query with one A record for the question, after passing the reply
// through mangle (which may return another message with the same ID).
func mangleServer(t *testing.T, mangle func(req, reply *dns.Msg) *dns.Msg) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA,
			Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(203, 0, 113, 66)}}
		_ = w.WriteMsg(mangle(r, m))
	}
	s := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(h)}
	ready := make(chan struct{})
	s.NotifyStartedFunc = func() { close(ready) }
	go func() { _ = s.ActivateAndServe() }()
	<-ready
	t.Cleanup(func() { _ = s.Shutdown() })
	return pc.LocalAddr().String()
}

// TestQueryRejectsRepliesThatDoNotAnswer: miekg/dns takes the first
// datagram from the server's address with the query's ID. An echo of the
// query (no QR bit: NOERROR, no records) or an answer to another question
// must not be taken as the server's answer by srv check, srv push's plan
// and read back, or the ddns propagation view.
func TestQueryRejectsRepliesThatDoNotAnswer(t *testing.T) {
	cases := []struct {
		name   string
		mangle func(req, reply *dns.Msg) *dns.Msg
		ok     bool
	}{
		{"own answer", func(req, m *dns.Msg) *dns.Msg { return m }, true},
		{"name case differs", func(req, m *dns.Msg) *dns.Msg { m.Question[0].Name = "WWW.Example.Test."; return m }, true},
		{"echo of the query", func(req, m *dns.Msg) *dns.Msg { return req }, false},
		{"other name", func(req, m *dns.Msg) *dns.Msg { m.Question[0].Name = "other.example.test."; return m }, false},
		{"other type", func(req, m *dns.Msg) *dns.Msg { m.Question[0].Qtype = dns.TypeAAAA; return m }, false},
		{"NOERROR without question", func(req, m *dns.Msg) *dns.Msg { m.Question = nil; return m }, false},
		{"opcode differs", func(req, m *dns.Msg) *dns.Msg { m.Opcode = dns.OpcodeNotify; return m }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := mangleServer(t, tc.mangle)
			cl := &dnsupdate.RFC2136{Server: addr, Timeout: 2 * time.Second}
			rrs, err := cl.Query(context.Background(), "www.example.test", dns.TypeA)
			vals, err2 := dnsupdate.QueryValues(context.Background(), addr, "www.example.test", dns.TypeA, 2*time.Second, false)
			if tc.ok {
				if err != nil || len(rrs) != 1 || err2 != nil || len(vals) != 1 {
					t.Fatalf("Query = %v, %v; QueryValues = %v, %v", rrs, err, vals, err2)
				}
				return
			}
			if !errors.Is(err, dnsupdate.ErrNotAnswer) || !errors.Is(err2, dnsupdate.ErrNotAnswer) {
				t.Fatalf("Query = %v, %v; QueryValues = %v, %v; want ErrNotAnswer", rrs, err, vals, err2)
			}
		})
	}
}
