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
