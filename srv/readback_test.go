package srv

import (
	"context"
	"strings"
	"testing"

	"github.com/redund/redund/internal/dnsupdate/bindtest"
)

// TestBINDPushReadBackCatchesIgnoredUpdate: BIND answers NOERROR to an
// UPDATE that adds SRV records at a name that is a CNAME, but ignores the
// records ("attempt to add non-CNAME alongside CNAME ignored"). A NOERROR
// is not the records: push reads every replaced RRset back from the
// primary and reports the one that did not take.
func TestBINDPushReadBackCatchesIgnoredUpdate(t *testing.T) {
	s := bindtest.Start(t, "example.test",
		"ms1 IN A 127.0.0.1", "ms2 IN A 127.0.0.1", "ms3 IN A 127.0.0.1",
		"_sip._udp.west.sip IN CNAME ms1")
	ms := []mediaServer{{5060, 5060, 5061}, {5060, 5060, 5061}, {5060, 5060, 5061}}
	c := loadString(t, liveConfig(s, ms, `"ms3", "ms2"`))
	ctx := context.Background()
	cl := c.Push.Client(c.Domain)
	changes, _, err := Plan(ctx, c, cl, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, cl, changes); err != nil {
		t.Fatalf("apply: %v (BIND answers NOERROR to an ignored add)", err)
	}
	rb, err := ReadBack(ctx, cl, changes, 8)
	if err != nil {
		t.Fatal(err)
	}
	if rb.OK() || len(rb.Findings) != 1 || rb.Checked != len(changes) {
		t.Fatalf("read back: %+v, want exactly the CNAME'd RRset to differ", rb)
	}
	if f := rb.Findings[0]; f.Name != "_sip._udp.west.sip.example.test." || !strings.Contains(f.Message, "is a CNAME") {
		t.Errorf("finding = %v, want the CNAME'd name named", f)
	}
	// the rest did take: a second read back of only those is clean
	var rest []Change
	for _, ch := range changes {
		if ch.Set.Name != "_sip._udp.west.sip.example.test." {
			rest = append(rest, ch)
		}
	}
	if rb, err := ReadBack(ctx, cl, rest, 8); err != nil || !rb.OK() {
		t.Fatalf("read back of the applied RRsets: %+v, %v", rb, err)
	}
}

// TestBINDCheckThroughCacheIsNotShownVerified: a caching resolver (a real
// named forwarding to the primary) keeps the old RRsets after a push, so
// its answers matching the config prove nothing about the zone. check must
// not pass on them (only AllowCache accepts them, and says so); asked at
// the primary, it reports the drift and the zone's serial.
func TestBINDCheckThroughCacheIsNotShownVerified(t *testing.T) {
	s, ms := startBIND(t)
	c := loadString(t, liveConfig(s, ms, `"ms3", "ms2", "ms1"`))
	push(t, c)
	cache := bindtest.StartForwarder(t, s)
	check := func(resolver string, allowCache bool) (string, bool) {
		rep, err := Check(context.Background(), c, CheckOptions{Resolver: resolver, AllowCache: allowCache})
		if err != nil {
			t.Fatalf("check at %s: %v", resolver, err)
		}
		var b strings.Builder
		WriteCheck(&b, rep)
		return b.String(), rep.OK()
	}
	text := func(resolver string) string { out, _ := check(resolver, false); return out }
	text(cache.Addr) // fills the cache
	push(t, loadString(t, liveConfig(s, ms, `"ms2", "ms3"`)))
	out, ok := check(cache.Addr, false)
	if ok || strings.Contains(out, "ok:") || !strings.Contains(out, "12 RRsets are NOT authoritative") ||
		!strings.Contains(out, "not verified: the cached answers of "+cache.Addr+" match the config") {
		t.Errorf("check through the cache after a push elsewhere passed (ok %v):\n%s", ok, out)
	}
	out, ok = check(cache.Addr, true)
	if !ok || !strings.Contains(out, "ok (--allow-cache): the cached answers of "+cache.Addr+" match the config (not verified at an authoritative server)") {
		t.Errorf("check through the cache with AllowCache (ok %v):\n%s", ok, out)
	}
	out = text(s.Addr)
	if !strings.Contains(out, "answers are authoritative (zone example.test. serial ") || !strings.Contains(out, "9 differences") {
		t.Errorf("check at the primary:\n%s", out)
	}
}

// TestBINDPlanCountsOnlyTheRRsetsOwnRecords: when an SRV name is a CNAME
// to another SRV name, BIND's answer holds the CNAME and the other name's
// SRV records. Those are not the RRset's current records: the plan must
// show a create, not an update removing another name's records.
func TestBINDPlanCountsOnlyTheRRsetsOwnRecords(t *testing.T) {
	s := bindtest.Start(t, "example.test",
		"ms1 IN A 127.0.0.1", "ms2 IN A 127.0.0.1", "ms3 IN A 127.0.0.1",
		"_sip._udp.west.sip IN CNAME _sip._udp.east.sip",
		"_sip._udp.east.sip IN SRV 1 1 9 old.example.test.")
	ms := []mediaServer{{5060, 5060, 5061}, {5060, 5060, 5061}, {5060, 5060, 5061}}
	c := loadString(t, liveConfig(s, ms, `"ms3", "ms2"`))
	changes, _, err := Plan(context.Background(), c, c.Push.Client(c.Domain), 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if ch.Set.Name == "_sip._udp.west.sip.example.test." && len(ch.Old) != 0 {
			t.Fatalf("west udp: current records %v, want none (they are east's)", ch.Old)
		}
	}
}
