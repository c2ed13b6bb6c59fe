package dnsupdate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate/bindtest"
)

func TestNSUpdateAgainstBIND(t *testing.T) {
	b := bindtest.Start(t, "example.test", "www 60 IN A 192.0.2.1", "www 60 IN A 192.0.2.2")
	p := &NSUpdate{Client: &RFC2136{Server: b.Addr, Zone: b.Zone, Timeout: 2 * time.Second,
		Key: &TSIG{Name: "DDNS-Key", Secret: config.Secret(b.KeySecret)}}}
	ctx := context.Background()
	vals, err := p.Get(ctx, "www.example.test", "A")
	if err != nil || strings.Join(vals, ",") != "192.0.2.1,192.0.2.2" {
		t.Fatalf("Get = %v, %v", vals, err)
	}
	if _, err := p.Set(ctx, Record{Name: "www.example.test", Type: "A", Value: "192.0.2.9", TTL: 30}); err != nil {
		t.Fatalf("Set: %v\n%s", err, b.Log())
	}
	vals, err = p.Get(ctx, "www.example.test", "A")
	if err != nil || !Matches("A", vals, "192.0.2.9") {
		t.Fatalf("after Set Get = %v, %v; want only 192.0.2.9", vals, err)
	}
	if _, err := p.Set(ctx, Record{Name: "alias.example.test", Type: "CNAME", Value: "www.example.test", TTL: 30}); err != nil {
		t.Fatalf("Set CNAME: %v", err)
	}
	if vals, err := p.Get(ctx, "alias.example.test", "CNAME"); err != nil || !Matches("CNAME", vals, "WWW.example.test.") {
		t.Fatalf("CNAME Get = %v, %v", vals, err)
	}
	bad := &NSUpdate{Client: &RFC2136{Server: b.Addr, Zone: b.Zone, Timeout: 2 * time.Second,
		Key: &TSIG{Name: b.KeyName, Secret: "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA=="}}}
	if _, err := bad.Set(ctx, Record{Name: "www.example.test", Type: "A", Value: "192.0.2.10"}); err == nil {
		t.Fatal("update with a wrong TSIG secret succeeded")
	}
	vals, _ = p.Get(ctx, "www.example.test", "A")
	if !Matches("A", vals, "192.0.2.9") {
		t.Errorf("wrong-key update changed the zone: %v", vals)
	}
}

// TestNSUpdateBesideCNAME: BIND answers NOERROR to an update that adds an
// A record beside a CNAME, or a CNAME beside other records, and ignores
// it (RFC 2136 section 3.4.2.2). Get must not take the CNAME target's
// address for the name's own, and Set must not report such an update as
// applied.
func TestNSUpdateBesideCNAME(t *testing.T) {
	b := bindtest.Start(t, "example.test",
		"cat 60 IN CNAME other.example.test.", "other 60 IN A 192.0.2.1",
		"dog 60 IN A 192.0.2.5")
	p := &NSUpdate{Client: &RFC2136{Server: b.Addr, Zone: b.Zone, Timeout: 2 * time.Second,
		Key: &TSIG{Name: b.KeyName, Secret: config.Secret(b.KeySecret)}}}
	ctx := context.Background()
	t.Run("get A at a CNAME", func(t *testing.T) {
		vals, err := p.Get(ctx, "cat.example.test", "A")
		if err == nil || !strings.Contains(err.Error(), "is a CNAME (to other.example.test.)") {
			t.Fatalf("Get = %v, %v; want an error naming the CNAME", vals, err)
		}
	})
	t.Run("set A at a CNAME", func(t *testing.T) {
		reply, err := p.Set(ctx, Record{Name: "cat.example.test", Type: "A", Value: "192.0.2.9"})
		if err == nil {
			t.Fatalf("Set = %q: an update BIND ignored reported as applied\n%s", reply, b.Log())
		}
	})
	t.Run("set CNAME beside an A", func(t *testing.T) {
		reply, err := p.Set(ctx, Record{Name: "dog.example.test", Type: "CNAME", Value: "other.example.test"})
		if !errors.Is(err, ErrNotApplied) || !strings.Contains(err.Error(), "serves none, not other.example.test") {
			t.Fatalf("Set = %q, %v; want ErrNotApplied", reply, err)
		}
	})
	t.Run("set A on its own", func(t *testing.T) {
		reply, err := p.Set(ctx, Record{Name: "dog.example.test", Type: "A", Value: "192.0.2.6"})
		if err != nil || !strings.HasSuffix(reply, "192.0.2.6 (read back)") {
			t.Fatalf("Set = %q, %v", reply, err)
		}
	})
}
