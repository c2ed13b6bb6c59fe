package voter

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// BenchmarkSecondaryForward measures the secondary's proxy path per packet:
// decode, digest lookup, encapsulation and the batched send.
func BenchmarkSecondaryForward(b *testing.B) {
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	clients := map[string]*ClientConfig{}
	for i := 0; i < 400; i++ {
		clients[fmt.Sprint("c", i)] = &ClientConfig{Password: config.Secret(fmt.Sprint("c", i))}
	}
	cfg := &Config{Listen: "127.0.0.1:0", Password: "hostpw", Challenge: "123456789",
		Primary: config.Secret(sink.LocalAddr().String() + ",linkpw"), Clients: clients}
	s, err := New(map[string]*Config{"sec": cfg}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		b.Fatal(err)
	}
	defer s.close()
	g := s.groups[0]
	in := s.insts["sec"]
	in.link.up, in.link.chal = true, MakeChallenge("555")
	pkts := make([][]byte, 400)
	for i := range pkts {
		p := Packet{Header: Header{Sec: 1, Challenge: MakeChallenge("42"), Digest: Digest([]byte("123456789"), fmt.Sprint("c", i))},
			Kind: TypeULaw, RSSI: 100, Audio: fill(FrameLen, 1)}
		pkts[i] = p.Append(nil)
	}
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.handle(pkts[i%400], from, now)
		if i%batchLen == batchLen-1 {
			g.q.flush()
		}
	}
	g.q.flush()
	if g.stats.Forwarded == 0 {
		b.Fatal("nothing forwarded")
	}
}
