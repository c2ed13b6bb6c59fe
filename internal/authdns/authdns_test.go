package authdns

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
)

const secret = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY3OA=="

func start(t *testing.T) *Server {
	t.Helper()
	s := New("Example.Test", "Ddns-Key", secret)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func client(s *Server, sec string) *dnsupdate.RFC2136 {
	return &dnsupdate.RFC2136{Server: s.Addr(), Zone: "example.test.", Timeout: 2 * time.Second,
		Key: &dnsupdate.TSIG{Name: "DDNS-key", Algorithm: "hmac-sha256", Secret: config.Secret(sec)}}
}

func a(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestSignedUpdateThenQuery(t *testing.T) {
	s := start(t)
	c := client(s, secret)
	ctx := context.Background()
	www := a(t, "www.example.test. 60 IN A 192.0.2.1")
	if err := c.Update(ctx, nil, []dns.RR{www}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	got, err := c.Query(ctx, "www.example.test.", dns.TypeA)
	if err != nil || len(got) != 1 || got[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("query after insert: %v %v", got, err)
	}
	// replace the RRset as ddns does: remove, then insert
	www2 := a(t, "www.example.test. 60 IN A 192.0.2.2")
	if err := c.Update(ctx, []dns.RR{www}, []dns.RR{www2}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	got = s.Lookup("WWW.example.test", dns.TypeA)
	if len(got) != 1 || got[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Fatalf("after replace: %v", got)
	}
	if s.Updates() != 2 {
		t.Fatalf("updates = %d", s.Updates())
	}
}

func TestUpdateRefusedWithWrongKey(t *testing.T) {
	s := start(t)
	c := client(s, "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==")
	err := c.Update(context.Background(), nil, []dns.RR{a(t, "x.example.test. 60 IN A 192.0.2.9")})
	if err == nil {
		t.Fatal("update with a wrong secret was accepted")
	}
	if len(s.Lookup("x.example.test.", dns.TypeA)) != 0 {
		t.Fatal("a refused update changed the zone")
	}
}

func TestUpdateOutsideZone(t *testing.T) {
	s := start(t)
	c := client(s, secret)
	err := c.Update(context.Background(), nil, []dns.RR{a(t, "x.other.test. 60 IN A 192.0.2.9")})
	var rc *dnsupdate.RcodeError
	if !errors.As(err, &rc) {
		t.Fatalf("err = %v, want an rcode error (NOTZONE)", err)
	}
}

func TestNXDOMAINAndRefused(t *testing.T) {
	s := start(t)
	cl := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg).SetQuestion("nope.example.test.", dns.TypeA)
	r, _, err := cl.Exchange(m, s.Addr())
	if err != nil || r.Rcode != dns.RcodeNameError || !r.Authoritative {
		t.Fatalf("nxdomain: %v %v", r, err)
	}
	m = new(dns.Msg).SetQuestion("example.org.", dns.TypeA)
	if r, _, err = cl.Exchange(m, s.Addr()); err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("out of zone: %v %v", r, err)
	}
}

// Every update bumps the SOA serial, and queries answered while updates run
// see a whole SOA (the server replaces it instead of changing the one an
// answer being written may still hold; -race catches the difference).
func TestSerialWhileQueried(t *testing.T) {
	s := start(t)
	c := client(s, secret)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl := &dns.Client{Timeout: 2 * time.Second}
		for ctx.Err() == nil {
			_, _, _ = cl.Exchange(new(dns.Msg).SetQuestion("example.test.", dns.TypeSOA), s.Addr())
		}
	}()
	for i := range 20 {
		rr := a(t, fmt.Sprintf("h%d.example.test. 60 IN A 192.0.2.%d", i, i+1))
		if err := c.Update(context.Background(), nil, []dns.RR{rr}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	got, err := c.Query(context.Background(), "example.test.", dns.TypeSOA)
	if err != nil || len(got) != 1 || got[0].(*dns.SOA).Serial != 21 {
		t.Fatalf("SOA after 20 updates: %v %v; want serial 21", got, err)
	}
}

// Deleting the SOA record by its data (class NONE) is ignored (RFC 2136
// 3.4.2.4): the zone keeps it and later updates still work.
func TestSOADeletionIgnored(t *testing.T) {
	s := start(t)
	m := new(dns.Msg)
	m.SetUpdate("example.test.")
	m.Remove(s.Lookup("example.test.", dns.TypeSOA))
	m.SetTsig("ddns-key.", dns.HmacSHA256, 300, time.Now().Unix())
	cl := &dns.Client{Timeout: 2 * time.Second, TsigSecret: map[string]string{"ddns-key.": secret}}
	if r, _, err := cl.Exchange(m, s.Addr()); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("delete SOA: %v %v", r, err)
	}
	if err := client(s, secret).Update(context.Background(), nil, []dns.RR{a(t, "x.example.test. 60 IN A 192.0.2.9")}); err != nil {
		t.Fatalf("update after the SOA deletion: %v", err)
	}
	if got := s.Lookup("example.test.", dns.TypeSOA); len(got) != 1 || got[0].(*dns.SOA).Serial != 3 {
		t.Fatalf("SOA after two updates: %v", got)
	}
}
