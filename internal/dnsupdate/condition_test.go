package dnsupdate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate/bindtest"
)

// TestConditionalSetAgainstBIND: a Set that requires the value it read is
// refused by a real BIND once someone else has changed the record (the
// stale ddns leader's case), and applied while the value is still there;
// a Set that requires no record is refused when one exists.
func TestConditionalSetAgainstBIND(t *testing.T) {
	b := bindtest.Start(t, "example.test", "cat 60 IN A 192.0.2.1")
	p := &NSUpdate{Client: &RFC2136{Server: b.Addr, Zone: b.Zone, Timeout: 2 * time.Second,
		Key: &TSIG{Name: b.KeyName, Secret: config.Secret(b.KeySecret)}}}
	if !CanCondition(p) {
		t.Fatal("rfc2136 does not say it honours Record.If")
	}
	ctx := context.Background()
	name := "cat.example.test"
	read, err := p.Get(ctx, name, "A") // both "leaders" read 192.0.2.1
	if err != nil {
		t.Fatal(err)
	}
	// the new leader moves the record
	if _, err := p.Set(ctx, Record{Name: name, Type: "A", Value: "192.0.2.2", TTL: 60, If: &Condition{Values: read}}); err != nil {
		t.Fatalf("conditional Set on the value read: %v\n%s", err, b.Log())
	}
	// the stale leader pushes on what it read before: refused
	_, err = p.Set(ctx, Record{Name: name, Type: "A", Value: "192.0.2.3", TTL: 60, If: &Condition{Values: read}})
	if !errors.Is(err, ErrConditionFailed) {
		t.Fatalf("stale conditional Set: err = %v, want ErrConditionFailed", err)
	}
	if vals, _ := p.Get(ctx, name, "A"); !Matches("A", vals, "192.0.2.2") {
		t.Fatalf("the refused update changed the zone: %v", vals)
	}
	// "no record" as the condition: refused while one exists, applied on a new name
	_, err = p.Set(ctx, Record{Name: name, Type: "A", Value: "192.0.2.4", If: &Condition{}})
	if !errors.Is(err, ErrConditionFailed) {
		t.Fatalf("Set requiring no record: err = %v, want ErrConditionFailed", err)
	}
	if _, err := p.Set(ctx, Record{Name: "new.example.test", Type: "A", Value: "192.0.2.5", If: &Condition{}}); err != nil {
		t.Fatalf("Set requiring no record on a new name: %v", err)
	}
	// without If the update is unconditional, as before
	if _, err := p.Set(ctx, Record{Name: name, Type: "A", Value: "192.0.2.6"}); err != nil {
		t.Fatal(err)
	}
	if CanCondition(&memNoCondition{}) {
		t.Error("a provider without Conditional claims to honour Record.If")
	}
}

type memNoCondition struct{ Provider }
