package voter

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

// A voted stream the kernel refuses to send is counted and makes the
// instance's health ERR: it used to be dropped in silence, with every
// client OK and rtp_sent merely standing still. Here the voted audio
// leaves from rtp_in's socket on 127.0.0.1 (symmetric RTP) towards an
// address off the host, which Linux refuses (EINVAL); in the field also
// no route, or a firewall.
func TestRTPOutSendErrorShown(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "203.0.113.7:5004", map[string]*ClientConfig{"bob": cl("bpw")})
	cfg.RTPIn = "127.0.0.1:0"
	srv := startServer(t, map[string]*Config{"main": cfg})
	var doc status.Document
	testutil.Eventually(t, 5*time.Second, "a send error in the status", func() bool {
		doc = srv.Status()[0]
		n, _ := doc.Details["rtp_send_errors"].(uint64)
		return n > 0
	})
	var h *status.Health
	for i := range doc.Health {
		if doc.Health[i].Name == "rtp_out" {
			h = &doc.Health[i]
		}
	}
	if h == nil || h.State != "ERR" || !strings.Contains(h.Reason, "voted audio not sent") {
		t.Fatalf("health %+v", doc.Health)
	}
}

// A PBX on this host that is down (nothing bound at rtp_out) makes the
// instance's health ERR: the voted stream's own socket is connected to
// rtp_out, so the kernel reports the closed port as a send error. It used
// to be unconnected, and the ICMP answers were lost: rtp_sent kept growing.
func TestRTPOutClosedPortShown(t *testing.T) {
	closed, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dest := closed.LocalAddr().String()
	closed.Close() // the port is free now: nothing listens there
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", dest, map[string]*ClientConfig{"bob": cl("bpw")})})
	testutil.Eventually(t, 5*time.Second, "rtp_out ERR", func() bool {
		for _, h := range srv.Status()[0].Health {
			if h.Name == "rtp_out" && h.State == "ERR" && strings.Contains(h.Reason, "refused") {
				return true
			}
		}
		return false
	})
}
