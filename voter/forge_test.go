package voter

import (
	"hash/crc32"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redund/redund/internal/testutil"
)

// forgeDigest computes the VOTER digest CRC32(newChal + password) from
// one observed pair (chal, digest = CRC32(chal + password)) and the
// password's length, without the password. CRC-32 is affine over GF(2):
// for messages of one length, crc(a^b^c) = crc(a)^crc(b)^crc(c). With
// a = chal+pw, b = chal+zeros, c = newChal+zeros, a^b^c = newChal+pw.
func forgeDigest(chal []byte, digest uint32, newChal []byte, pwLen int) uint32 {
	zeros := make([]byte, pwLen)
	crc := func(ch []byte) uint32 { return crc32.Update(crc32.ChecksumIEEE(ch), crc32.IEEETable, zeros) }
	return digest ^ crc(chal) ^ crc(newChal)
}

// TestDigestForgeryFromOneObservedPair documents a weakness of the VOTER
// protocol (chan_voter's, kept for compatibility; see docs/voter.md,
// Security): a listener who saw a client authenticate to one server
// (that server's challenge and the client's digest) logs in as that client
// on a server with another challenge of the same length (every random
// redund challenge has 8 digits): after a restart, or on the other server
// of a pair. It does not know the password's length and tries them all;
// each wrong guess is an unknown digest, which is what the
// redund_voter_unknown_digest_total alert watches.
func TestDigestForgeryFromOneObservedPair(t *testing.T) {
	const pw = "hilltop-2f9c" // the attacker never uses it
	mk := func(chal string) *Config {
		c := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"hilltop": cl(pw)})
		c.Challenge = chal
		return c
	}
	seen := startServer(t, map[string]*Config{"a": mk("31415926")})
	reg := prometheus.NewRegistry()
	victim := startServerOpts(t, map[string]*Config{"b": mk("27182818")}, Options{Registry: reg})
	mix := FlagMix

	// the real client on server a, as a listener on the path sees it
	ca := dialVoter(t, seen.Addr("a"))
	chalA := authExchange(t, ca, 0, nil).Challenge.Bytes() // in the server's packets
	observed := Digest(chalA, pw)                          // in the client's packets
	if r := authExchange(t, ca, observed, &mix); r == nil || r.Flags != FlagMix {
		t.Fatalf("the real client was not accepted: %+v", r)
	}

	// the attacker on server b: learns its challenge, tries every length
	cb := dialVoter(t, victim.Addr("b"))
	chalB := authExchange(t, cb, 0, nil).Challenge.Bytes()
	if len(chalB) != len(chalA) || string(chalB) == string(chalA) {
		t.Fatalf("challenges %q and %q: want two of one length", chalA, chalB)
	}
	for n := 1; n <= 48; n++ { // a client password has at most 48 characters
		p := Packet{Header: Header{Challenge: MakeChallenge("666"), Digest: forgeDigest(chalA, observed, chalB, n)},
			Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
		if _, err := cb.Write(p.Append(nil)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "server b to take the forger for hilltop", func() bool {
		return victim.Status()[0].Details["clients"].([]ClientStatus)[0].Connected
	})
	if got := forgeDigest(chalA, observed, chalB, len(pw)); got != Digest(chalB, pw) || got == observed {
		t.Fatalf("forged %08x, real digest for b %08x, observed %08x", got, Digest(chalB, pw), observed)
	}
	testutil.Eventually(t, 5*time.Second, "47 wrong guesses counted", func() bool { return victim.Stats("b")["unknown_digest"] == 47 })
	if v := counterValue(t, reg, "redund_voter_unknown_digest_total", map[string]string{"instance": "b"}); v != 47 {
		t.Errorf("redund_voter_unknown_digest_total{instance=\"b\"} = %v, want 47", v)
	}
}

func dialVoter(t *testing.T, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// counterValue gathers reg and returns the counter name with labels.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}
