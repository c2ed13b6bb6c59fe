package dnsupdate_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
)

const (
	replyKey    = "ddns-key."
	replySecret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
	otherSecret = "b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcm90aGVyMTI="
)

// replyServer is a real UDP DNS server on loopback that answers every
// query and UPDATE with rcode and, for queries, one A record. secrets is
// the server's TSIG key table: nil answers unsigned (an on-path host that
// has no key); otherwise the reply is signed with the secret the table
// holds for the request's key name, whatever it is.
func replyServer(t *testing.T, rcode int, secrets map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		if r.Opcode == dns.OpcodeQuery && rcode == dns.RcodeSuccess {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA,
				Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(203, 0, 113, 66)}}
		}
		if tsig := r.IsTsig(); tsig != nil && secrets != nil {
			m.SetTsig(tsig.Hdr.Name, tsig.Algorithm, 300, time.Now().Unix())
		}
		_ = w.WriteMsg(m)
	}
	s := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(h), TsigSecret: secrets,
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }} // UPDATE too
	ready := make(chan struct{})
	s.NotifyStartedFunc = func() { close(ready) }
	go func() { _ = s.ActivateAndServe() }()
	<-ready
	t.Cleanup(func() { _ = s.Shutdown() })
	return pc.LocalAddr().String()
}

func keyedClient(addr string) *dnsupdate.RFC2136 {
	return &dnsupdate.RFC2136{Server: addr, Zone: "example.test", Timeout: 2 * time.Second,
		Key: &dnsupdate.TSIG{Name: replyKey, Secret: config.Secret(replySecret)}}
}

// TestRFC2136RejectsUnauthenticatedReplies: with a key configured, an
// answer that is not signed with that key is an error, for UPDATE and for
// queries (NOERROR and NXDOMAIN alike), so ddns and srv never report a
// change as applied, or a record as present, on a stranger's word.
func TestRFC2136RejectsUnauthenticatedReplies(t *testing.T) {
	ins := []dns.RR{rr(t, "x.example.test. 60 IN A 192.0.2.1")}
	tests := []struct {
		name    string
		rcode   int
		secrets map[string]string
		want    string
	}{
		{"unsigned NOERROR", dns.RcodeSuccess, nil, "not signed"},
		{"unsigned NXDOMAIN", dns.RcodeNameError, nil, "not signed"},
		{"signed with another secret", dns.RcodeSuccess, map[string]string{replyKey: otherSecret}, "TSIG"},
	}
	for _, tc := range tests {
		addr := replyServer(t, tc.rcode, tc.secrets)
		c := keyedClient(addr)
		t.Run(tc.name+"/query", func(t *testing.T) {
			rrs, err := c.Query(context.Background(), "x.example.test", dns.TypeA)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Query = %v, %v; want an error mentioning %q", rrs, err, tc.want)
			}
		})
		if tc.rcode != dns.RcodeSuccess {
			continue // a failed UPDATE is an error anyway
		}
		t.Run(tc.name+"/update", func(t *testing.T) {
			err := c.Update(context.Background(), nil, ins)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Update = %v; want an error mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("unsigned is ErrUnsigned", func(t *testing.T) {
		err := keyedClient(replyServer(t, dns.RcodeSuccess, nil)).Update(context.Background(), nil, ins)
		if !errors.Is(err, dnsupdate.ErrUnsigned) {
			t.Fatalf("err = %v, want ErrUnsigned", err)
		}
	})
}

// TestRFC2136AcceptsSignedReplies is the control for the test above: the
// same server holding the right secret is believed.
func TestRFC2136AcceptsSignedReplies(t *testing.T) {
	c := keyedClient(replyServer(t, dns.RcodeSuccess, map[string]string{replyKey: replySecret}))
	if err := c.Update(context.Background(), nil, []dns.RR{rr(t, "x.example.test. 60 IN A 192.0.2.1")}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	rrs, err := c.Query(context.Background(), "x.example.test", dns.TypeA)
	if err != nil || len(rrs) != 1 {
		t.Fatalf("Query = %v, %v", rrs, err)
	}
	// without a key, unsigned answers are what there is
	c.Key = nil
	if _, err := c.Query(context.Background(), "x.example.test", dns.TypeA); err != nil {
		t.Fatalf("unsigned query without a key: %v", err)
	}
}

// TestRFC2136TCPRetryIsSigned: a signed query whose UDP reply is truncated
// is sent again over TCP, signed again. The server here truncates every
// UDP reply and, over TCP, refuses a request that is not signed with the
// key (as BIND does for a zone that requires it).
func TestRFC2136TCPRetryIsSigned(t *testing.T) {
	pc, l := udpTCPPair(t)
	h := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		switch {
		case r.IsTsig() == nil || w.TsigStatus() != nil:
			m.Rcode = dns.RcodeRefused
		case isUDP(w):
			m.Truncated = true
		default:
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA,
				Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(192, 0, 2, 7)}}
		}
		if tsig := r.IsTsig(); tsig != nil {
			m.SetTsig(tsig.Hdr.Name, tsig.Algorithm, 300, time.Now().Unix())
		}
		_ = w.WriteMsg(m)
	}
	secrets := map[string]string{replyKey: replySecret}
	for _, s := range []*dns.Server{{PacketConn: pc}, {Listener: l}} {
		s.Handler, s.TsigSecret = dns.HandlerFunc(h), secrets
		ready := make(chan struct{})
		s.NotifyStartedFunc = func() { close(ready) }
		go func() { _ = s.ActivateAndServe() }()
		<-ready
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	rrs, err := keyedClient(pc.LocalAddr().String()).Query(context.Background(), "x.example.test", dns.TypeA)
	if err != nil || len(rrs) != 1 {
		t.Fatalf("Query = %v, %v; want the A record from the signed TCP retry", rrs, err)
	}
}

func isUDP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.UDPAddr)
	return ok
}
