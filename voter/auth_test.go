package voter

import (
	"net"
	"testing"
	"time"
)

// authExchange sends an auth packet and returns the reply (nil: none in 300 ms).
func authExchange(t *testing.T, conn *net.UDPConn, digest uint32, flags *byte) *Packet {
	t.Helper()
	p := Packet{Header: Header{Challenge: MakeChallenge("777"), Digest: digest}, Kind: TypeAuth}
	if flags != nil {
		p.HasFlags, p.Flags = true, *flags
	}
	if _, err := conn.Write(p.Append(nil)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil
		}
		var r Packet
		if err := Decode(buf[:n], &r); err != nil {
			t.Fatalf("bad reply: %v", err)
		}
		if r.Kind == TypeAuth { // keepalives of an earlier session may come first
			return &r
		}
	}
}

func TestAuthRules(t *testing.T) {
	for _, withMaster := range []bool{false, true} {
		clients := map[string]*ClientConfig{"gps": cl("gpw"), "mixer": cl("xpw"), "tx": {Password: "tpw", Transmit: true, NoDeemp: true}}
		if withMaster {
			clients["master"] = &ClientConfig{Password: "mpw", Master: true}
		}
		srv := startServer(t, map[string]*Config{"x": voterCfg("127.0.0.1:0", "", clients)})
		conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(srv.Addr("x")))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		hello := authExchange(t, conn, 0, nil)
		if hello == nil || hello.Digest != Digest([]byte("777"), "hostpw") || !hello.HasFlags || hello.Flags != 0 {
			t.Fatalf("first reply %+v", hello)
		}
		chal := hello.Challenge.Bytes()
		mix := FlagMix
		if r := authExchange(t, conn, Digest(chal, "xpw"), &mix); r == nil || r.Flags != FlagMix || r.Digest == 0 {
			t.Errorf("master=%v: mix client reply %+v", withMaster, r)
		}
		r := authExchange(t, conn, Digest(chal, "gpw"), nil)
		switch {
		case !withMaster && (r == nil || r.Digest != 0):
			t.Errorf("GPS client without master: reply %+v, want digest 0", r)
		case withMaster && (r == nil || r.Digest == 0 || r.Flags != 0):
			t.Errorf("GPS client with master: reply %+v", r)
		}
		if withMaster {
			if r := authExchange(t, conn, Digest(chal, "tpw"), nil); r == nil || r.Flags != FlagFlat {
				t.Errorf("nodeemp client flags %+v, want 1", r)
			}
			if r := authExchange(t, conn, Digest(chal, "mpw"), nil); r == nil || r.Flags != FlagSendAlways|FlagMaster {
				t.Errorf("master flags %+v, want 2|8", r)
			}
			if r := authExchange(t, conn, Digest(chal, "mpw"), &mix); r != nil {
				t.Errorf("master asking for mix mode got a reply %+v", r)
			}
		}
	}
}
