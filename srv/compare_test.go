package srv

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func rrsOf(t *testing.T, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, rr)
	}
	return out
}

func TestCompare(t *testing.T) {
	const n = "_sip._udp.east.sip.example.com."
	want := RRSet{Name: n, Type: dns.TypeSRV, TTL: 300, RRs: rrsOf(t,
		n+" 300 IN SRV 10 10 5060 ms1.example.com.",
		n+" 300 IN SRV 20 10 5060 ms2.example.com.",
		n+" 300 IN SRV 30 10 5060 ms3.example.com.")}
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"equal, other order and case, lower TTL", []string{
			n + " 12 IN SRV 30 10 5060 MS3.example.com.", n + " 12 IN SRV 10 10 5060 ms1.example.com.", n + " 12 IN SRV 20 10 5060 ms2.example.com."}, nil},
		{"missing and extra", []string{
			n + " 300 IN SRV 10 10 5060 ms1.example.com.", n + " 300 IN SRV 20 10 5060 ms2.example.com.", n + " 300 IN SRV 40 10 5060 ms9.example.com."}, []string{
			n + " SRV: missing 30 10 5060 ms3.example.com.", n + " SRV: extra 40 10 5060 ms9.example.com."}},
		{"wrong fields", []string{
			n + " 300 IN SRV 10 10 5060 ms1.example.com.", n + " 300 IN SRV 20 99 5062 ms2.example.com.", n + " 300 IN SRV 5 10 5060 ms3.example.com."}, []string{
			n + " SRV: ms2.example.com. has weight 99, want 10, port 5062, want 5060", n + " SRV: ms3.example.com. has priority 5, want 30"}},
		{"nothing published", nil, []string{
			n + " SRV: missing 10 10 5060 ms1.example.com.", n + " SRV: missing 20 10 5060 ms2.example.com.", n + " SRV: missing 30 10 5060 ms3.example.com."}},
		{"other names and types ignored", []string{
			n + " 300 IN SRV 10 10 5060 ms1.example.com.", n + " 300 IN SRV 20 10 5060 ms2.example.com.", n + " 300 IN SRV 30 10 5060 ms3.example.com.",
			"x.example.com. 300 IN SRV 1 1 1 y.example.com.", n + " 300 IN TXT \"hi\""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range Compare(want, rrsOf(t, tc.got...)) {
				got = append(got, f.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	if equalSet(want, rrsOf(t, n+" 12 IN SRV 10 10 5060 ms1.example.com.", n+" 12 IN SRV 20 10 5060 ms2.example.com.", n+" 12 IN SRV 30 10 5060 ms3.example.com.")) {
		t.Error("equalSet ignores a TTL difference; push must fix TTLs")
	}
}

func TestCompareNAPTR(t *testing.T) {
	const n = "east.sip.example.com."
	want := RRSet{Name: n, Type: dns.TypeNAPTR, TTL: 300, RRs: rrsOf(t, n+` 300 IN NAPTR 10 50 "s" "SIP+D2U" "" _sip._udp.east.sip.example.com.`)}
	got := rrsOf(t, n+` 300 IN NAPTR 20 50 "s" "SIP+D2U" "" _sip._tcp.east.sip.example.com.`)
	f := Compare(want, got)
	if len(f) != 1 || f[0].Message != "SIP+D2U has order 20, want 10, replacement _sip._tcp.east.sip.example.com., want _sip._udp.east.sip.example.com." {
		t.Fatalf("findings %v", f)
	}
}

func TestCheckSilentResolverTimesOut(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := loadFile(t, "testdata/three-zones.toml")
	start := time.Now()
	_, err = Check(context.Background(), c, CheckOptions{Resolver: pc.LocalAddr().String(), Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not answer within 200ms") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestParseSIPResponse(t *testing.T) {
	r, err := ParseSIPResponse([]byte("SIP/2.0 405 Method Not Allowed\r\nVia: x\r\ni: abc@h\r\n\r\nbody: x"))
	if err != nil || r.Code != 405 || r.Reason != "Method Not Allowed" || r.CallID != "abc@h" {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{"OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n", "SIP/2.0 99 x\r\nCall-ID: a\r\n", "SIP/2.0 200 OK\r\n\r\n", ""} {
		t.Run(bad, func(t *testing.T) {
			if _, err := ParseSIPResponse([]byte(bad)); err == nil {
				t.Errorf("%q accepted", bad)
			}
		})
	}
}

func FuzzParseSIPResponse(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\nCall-ID: a@b\r\n\r\n"))
	f.Add([]byte("SIP/2.0 100 Trying\ni:x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseSIPResponse(b)
		if err == nil && (r.Code < 100 || r.Code > 699 || r.CallID == "") {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func TestProbes(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() { // reply 200 as a SIP server does
		buf := make([]byte, 4096)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(sipReply(buf[:n], "200 OK", nil), from)
	}()
	if err := probeSIP(context.Background(), "ms1.example.com.", pc.LocalAddr().String(), 2*time.Second); err != nil {
		t.Fatalf("SIP probe of a responder: %v", err)
	}
	silent, _ := net.ListenPacket("udp", "127.0.0.1:0")
	t.Cleanup(func() { silent.Close() })
	if err := probeSIP(context.Background(), "x.", silent.LocalAddr().String(), 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no reply to SIP OPTIONS") {
		t.Fatalf("silent: %v", err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	if err := probeTCP(context.Background(), addr, time.Second); err != nil {
		t.Fatalf("tcp probe of a listener: %v", err)
	}
	l.Close()
	if err := probeTCP(context.Background(), addr, time.Second); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("closed port: %v", err)
	}
}
