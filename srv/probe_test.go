package srv

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSIPProbeAcceptsOnlyItsResponse: a datagram that is not the response
// to this OPTIONS request (other Via branch, other CSeq, a request, a
// response sent from another address) must not make the target answering.
func TestSIPProbeAcceptsOnlyItsResponse(t *testing.T) {
	replace := func(old, new string) func(string) string {
		return func(l string) string { return strings.Replace(l, old, new, 1) }
	}
	cases := []struct {
		name string
		// send answers req (received from `from` on pc) with bogus datagrams
		send func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte)
		ok   bool
	}{
		{"own response", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			pc.WriteTo(sipReply(req, "200 OK", nil), from)
		}, true},
		{"error status still answers", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			pc.WriteTo(sipReply(req, "405 Method Not Allowed", nil), from)
		}, true},
		{"other Via branch", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			pc.WriteTo(sipReply(req, "200 OK", replace("branch=z9hG4bK", "branch=z9hG4bKold")), from)
		}, false},
		{"no Via", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			pc.WriteTo(sipReply(req, "200 OK", replace("Via:", "X-Via:")), from)
		}, false},
		{"CSeq of an INVITE", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			pc.WriteTo(sipReply(req, "200 OK", replace("1 OPTIONS", "1 INVITE")), from)
		}, false},
		{"earlier CSeq", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			pc.WriteTo(sipReply(req, "200 OK", replace("CSeq: 1 ", "CSeq: 0 ")), from)
		}, false},
		{"request echoed", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			pc.WriteTo(req, from)
		}, false},
		{"response from another address", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			other, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Error(err)
				return
			}
			defer other.Close()
			other.WriteTo(sipReply(req, "200 OK", nil), from)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			t.Cleanup(func() { pc.Close(); <-done })
			go func() {
				defer close(done)
				buf := make([]byte, 8192)
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				tc.send(t, pc, from, buf[:n])
			}()
			err = probeSIP(context.Background(), "ms1.example.com.", pc.LocalAddr().String(), 300*time.Millisecond)
			if tc.ok && err != nil {
				t.Fatalf("probe: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "no reply to SIP OPTIONS")) {
				t.Fatalf("probe = %v, want no reply (the datagram does not answer this request)", err)
			}
		})
	}
}

func TestParseSIPResponseMatchFields(t *testing.T) {
	r, err := ParseSIPResponse([]byte("SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;rport=1;BRANCH=z9hG4bKx, SIP/2.0/UDP b;branch=z9hG4bKy\r\n" +
		"Via: SIP/2.0/UDP c;branch=z9hG4bKz\r\nCSeq: 7  OPTIONS\r\ni: id\r\n\r\n"))
	if err != nil || r.Branch != "z9hG4bKx" || r.CSeqNum != 7 || r.CSeqMethod != "OPTIONS" {
		t.Fatalf("%+v %v; want the first Via's branch and CSeq 7 OPTIONS", r, err)
	}
}
