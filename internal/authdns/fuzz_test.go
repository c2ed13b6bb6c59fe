package authdns

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

type fakeWriter struct{ msgs int }

func (w *fakeWriter) LocalAddr() net.Addr       { return &net.UDPAddr{} }
func (w *fakeWriter) RemoteAddr() net.Addr      { return &net.UDPAddr{} }
func (w *fakeWriter) WriteMsg(*dns.Msg) error   { w.msgs++; return nil }
func (w *fakeWriter) Write([]byte) (int, error) { return 0, nil }
func (w *fakeWriter) Close() error              { return nil }
func (w *fakeWriter) TsigStatus() error         { return dns.ErrAuth }
func (w *fakeWriter) TsigTimersOnly(bool)       {}
func (w *fakeWriter) Hijack()                   {}

// FuzzServeDNS: any message that unpacks gets exactly one reply and never
// changes the zone without a valid signature.
func FuzzServeDNS(f *testing.F) {
	q := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
	u := new(dns.Msg).SetUpdate("example.test.")
	rr, _ := dns.NewRR("www.example.test. 60 IN A 192.0.2.1")
	u.Insert([]dns.RR{rr})
	for _, m := range []*dns.Msg{q, u} {
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if m.Unpack(b) != nil {
			return
		}
		s := New("example.test.", "k.", "c2VjcmV0")
		w := &fakeWriter{}
		s.ServeDNS(w, m)
		if w.msgs != 1 {
			t.Fatalf("%d replies", w.msgs)
		}
		if s.Updates() != 0 {
			t.Fatal("unsigned update applied")
		}
	})
}
