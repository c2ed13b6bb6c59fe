package replica

import (
	"strings"
	"testing"
)

// TestPeerTextInAnswers: the reason a leader gives for a full sync is shown
// in the follower's status, events and log: it is made printable and
// bounded (it came as sent: terminal escapes, any length up to a frame).
// A log id, stored and shown too, that is long or not printable is refused.
func TestPeerTextInAnswers(t *testing.T) {
	r, err := decodePullResp(pullResp{LogID: "ab", Full: true, Reason: "\x1b[2J\u202egone" + strings.Repeat("x", 4096)}.encode())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Reason) > 512 || strings.ContainsAny(r.Reason, "\x1b\u202e") {
		t.Fatalf("reason kept as sent (%d bytes): %.40q", len(r.Reason), r.Reason)
	}
	for _, c := range []struct {
		name string
		id   string
	}{{"control characters", "ab\x1b[31m"}, {"too long", strings.Repeat("a", 65)}, {"spaces", "a b"}} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := decodePullResp(pullResp{LogID: c.id, Last: 1}.encode()); err == nil {
				t.Fatal("pull answer accepted")
			}
			if _, err := decodeSnapResp(snapResp{LogID: c.id, Done: true}.encode()); err == nil {
				t.Fatal("snapshot page accepted")
			}
		})
	}
}
