package srv

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/dnsupdate/bindtest"
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
		{"503: phones move on", func(t *testing.T, pc net.PacketConn, from net.Addr, req []byte) {
			pc.WriteTo(sipReply(req, "503 Service Unavailable", nil), from)
		}, false},
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
			want := "no reply to SIP OPTIONS" // the datagram does not answer this request
			if strings.HasPrefix(tc.name, "503") {
				want = "503 Service Unavailable: phones move on"
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Fatalf("probe = %v, want %q", err, want)
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

// TestBINDProbeEveryAddress: phones try every address of a target (RFC
// 3263), so check probes each one. ms1 has an A record where the media
// server listens and an AAAA record where nothing does: the AAAA address
// must be reported, not hidden behind the A address that answers.
func TestBINDProbeEveryAddress(t *testing.T) {
	if l, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	s := bindtest.Start(t, "example.test", "ms1 IN A 127.0.0.1", "ms1 IN AAAA ::1")
	ms := startMediaServer(t)
	src := fmt.Sprintf("[srv]\ndomain = \"sip.example.test\"\ntransports = [\"udp\", \"tcp\", \"tls\"]\ntimeout = \"1s\"\n"+
		"[[srv.targets]]\nname = \"ms1\"\nhost = \"ms1.example.test\"\nudp = %d\ntcp = %d\ntls = %d\n"+
		"[[srv.zones]]\nname = \"east\"\norder = [\"ms1\"]\n"+
		"[srv.push]\nserver = %q\nzone = \"example.test\"\n[srv.push.tsig]\nname = %q\nsecret = %q\n",
		ms.udp, ms.tcp, ms.tls, s.Addr, s.KeyName, s.KeySecret)
	c := loadString(t, src)
	push(t, c)
	rep := check(t, c)
	if rep.Probes != 6 {
		t.Errorf("%d probes, want 6 (3 ports at 2 addresses)", rep.Probes)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.String())
	}
	all := strings.Join(got, "\n")
	if len(got) != 3 || strings.Contains(all, "127.0.0.1") || strings.Count(all, "[::1]") != 3 {
		t.Fatalf("findings, want the three ports at [::1] only:\n%s", all)
	}
}

// TestSIPProbeRetransmits: UDP loses datagrams; a SIP client retransmits
// the same request (RFC 3261 timer A), so a port whose first OPTIONS was
// lost still answers the probe.
func TestSIPProbeRetransmits(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reqs := make(chan string, 2)
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 8192)
		for i := 0; i < 2; i++ {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			reqs <- string(buf[:n])
			if i == 1 { // the first request is "lost"
				pc.WriteTo(sipReply(buf[:n], "200 OK", nil), from)
			}
		}
	}()
	if err := probeSIP(context.Background(), "ms1.example.com.", pc.LocalAddr().String(), 3*time.Second); err != nil {
		t.Fatalf("probe with the first request lost: %v", err)
	}
	if first, second := <-reqs, <-reqs; first != second {
		t.Errorf("retransmission differs from the request:\n%s\n---\n%s", first, second)
	}
}
