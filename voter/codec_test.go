package voter

import (
	"bytes"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/redund/redund/internal/testutil"
)

// rawHeader builds a header byte by byte at the documented offsets, without
// using the codec, so the golden tests check the codec against the spec.
func rawHeader(sec, nsec uint32, chal string, digest uint32, typ uint16) []byte {
	b := make([]byte, 24)
	b[0], b[1], b[2], b[3] = byte(sec>>24), byte(sec>>16), byte(sec>>8), byte(sec)
	b[4], b[5], b[6], b[7] = byte(nsec>>24), byte(nsec>>16), byte(nsec>>8), byte(nsec)
	copy(b[8:18], chal) // NUL padded
	b[18], b[19], b[20], b[21] = byte(digest>>24), byte(digest>>16), byte(digest>>8), byte(digest)
	b[22], b[23] = byte(typ>>8), byte(typ)
	return b
}

func rawProxy(ip [4]byte, port, inner uint16, flags byte, chal string) []byte {
	b := make([]byte, 19)
	copy(b[0:4], ip[:])
	b[4], b[5] = byte(port>>8), byte(port)
	b[6], b[7] = byte(inner>>8), byte(inner)
	b[8] = flags
	copy(b[9:19], chal)
	return b
}

func fill(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

type goldenCase struct {
	name string
	raw  []byte
	pkt  Packet
}

func goldenCases() []goldenCase {
	ch := MakeChallenge("123456789")
	hdr := func(nsec, digest uint32) Header {
		return Header{Sec: 1700000000, Nsec: nsec, Challenge: ch, Digest: digest}
	}
	audio := fill(160, 0x55)
	adpcm := cat(fill(160, 0x12), []byte{0x01, 0x02, 0x07})
	gps := cat([]byte("4807.038\x00"), []byte("01131.000\x00"), []byte("00545\x00\x00"))
	ping := cat([]byte{1, 0, 0, 0}, fill(32, 0), fill(128, 9))
	ip := [4]byte{192, 0, 2, 7}
	return []goldenCase{
		{"auth", rawHeader(1700000000, 0, "123456789", 0, 0), Packet{Header: hdr(0, 0), Kind: TypeAuth}},
		{"auth_flags", cat(rawHeader(1700000000, 3, "123456789", 0xdeadbeef, 0), []byte{32}),
			Packet{Header: hdr(3, 0xdeadbeef), Kind: TypeAuth, HasFlags: true, Flags: FlagMix}},
		{"ulaw", cat(rawHeader(1700000000, 20000000, "123456789", 0x01020304, 1), []byte{200}, audio),
			Packet{Header: hdr(20000000, 0x01020304), Kind: TypeULaw, RSSI: 200, Audio: audio}},
		{"adpcm", cat(rawHeader(1700000000, 40000000, "123456789", 0x01020304, 3), []byte{17}, adpcm),
			Packet{Header: hdr(40000000, 0x01020304), Kind: TypeADPCM, RSSI: 17, Audio: adpcm}},
		{"gps", cat(rawHeader(1700000000, 0, "123456789", 0x01020304, 2), gps),
			Packet{Header: hdr(0, 0x01020304), Kind: TypeGPS, GPS: gps}},
		{"keepalive", rawHeader(1700000000, 0, "123456789", 0x01020304, 2),
			Packet{Header: hdr(0, 0x01020304), Kind: TypeGPS}},
		{"ping", cat(rawHeader(1700000000, 0, "123456789", 0x01020304, 5), ping),
			Packet{Header: hdr(0, 0x01020304), Kind: TypePing, Ping: ping}},
		{"proxy_ulaw", cat(rawHeader(1700000000, 20000000, "123456789", 0x0a0b0c0d, 0xF000),
			rawProxy(ip, 1667, 1, FlagFlat|FlagNoCTCSS, "987654321"), []byte{99}, audio),
			Packet{Header: hdr(20000000, 0x0a0b0c0d), Proxied: true, Kind: TypeULaw, RSSI: 99, Audio: audio,
				Proxy: ProxyHeader{Addr: ip, Port: 1667, Type: 1, Flags: 5, Challenge: MakeChallenge("987654321")}}},
		{"proxy_keepalive", cat(rawHeader(1700000000, 0, "123456789", 0x0a0b0c0d, 0xF000), rawProxy(ip, 4000, 2, 0, "")),
			Packet{Header: hdr(0, 0x0a0b0c0d), Proxied: true, Kind: TypeGPS,
				Proxy: ProxyHeader{Addr: ip, Port: 4000, Type: 2}}},
	}
}

func TestGoldenOffsets(t *testing.T) {
	wantLen := map[string]int{"auth": 24, "auth_flags": 25, "ulaw": 185, "adpcm": 188, "gps": 50,
		"keepalive": 24, "ping": 188, "proxy_ulaw": 204, "proxy_keepalive": 43}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			if len(c.raw) != wantLen[c.name] {
				t.Fatalf("raw length %d, want %d", len(c.raw), wantLen[c.name])
			}
			enc := c.pkt.Append(nil)
			if !bytes.Equal(enc, c.raw) {
				t.Fatalf("encode mismatch\n got %x\nwant %x", enc, c.raw)
			}
			var p Packet
			if err := Decode(c.raw, &p); err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := c.pkt
			want.Type = TypeProxy
			if !want.Proxied {
				want.Type = want.Kind
			} else {
				want.Proxy.Type = want.Kind
			}
			if !packetEqual(&p, &want) {
				t.Fatalf("decode mismatch\n got %+v\nwant %+v", p, want)
			}
			checkGolden(t, c.name, enc)
		})
	}
}

func packetEqual(a, b *Packet) bool {
	return a.Header == b.Header && a.Proxied == b.Proxied && a.Proxy == b.Proxy && a.Kind == b.Kind &&
		a.HasFlags == b.HasFlags && a.Flags == b.Flags && a.RSSI == b.RSSI &&
		bytes.Equal(a.Audio, b.Audio) && bytes.Equal(a.GPS, b.GPS) && bytes.Equal(a.Ping, b.Ping)
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	checkGoldenText(t, name, hex.Dump(got))
}

func checkGoldenText(t *testing.T, name, text string) {
	t.Helper()
	testutil.Golden(t, name, []byte(text))
}

func TestDecodeSizes(t *testing.T) {
	h := func(typ uint16) []byte { return rawHeader(1, 2, "1", 3, typ) }
	px := func(inner uint16) []byte { return cat(h(TypeProxy), rawProxy([4]byte{}, 1, inner, 0, "1")) }
	cases := []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrShort},
		{"23 bytes", h(0)[:23], ErrShort},
		{"auth 26", cat(h(0), []byte{1, 2}), ErrSize},
		{"ulaw 184", cat(h(1), fill(160, 0)), ErrSize},
		{"ulaw 186", cat(h(1), fill(162, 0)), ErrSize},
		{"adpcm 185", cat(h(3), fill(161, 0)), ErrSize},
		{"gps 49 ok", cat(h(2), fill(25, 0)), nil},
		{"gps 30", cat(h(2), fill(6, 0)), ErrSize},
		{"ping 187", cat(h(5), fill(163, 0)), ErrSize},
		{"type 6", h(6), ErrType},
		{"oversized", cat(h(1), fill(400, 0)), ErrTooLarge},
		{"proxy short", cat(h(TypeProxy), fill(18, 0)), ErrSize},
		{"proxy nested", px(TypeProxy), ErrNested},
		{"proxy ulaw short", cat(px(1), fill(100, 0)), ErrSize},
		{"proxy auth", px(0), nil},
		{"nulaw 185", cat(h(4), fill(161, 0)), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			if err := Decode(c.b, &p); !errors.Is(err, c.err) {
				t.Errorf("%s: got %v, want %v", c.name, err, c.err)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	want := crc32.ChecksumIEEE([]byte("123456789" + "secret"))
	if got := Digest([]byte("123456789"), "secret"); got != want {
		t.Fatalf("digest %08x, want %08x", got, want)
	}
	c := MakeChallenge("1234567890123") // truncated to 9 characters
	if c.String() != "123456789" || c[9] != 0 {
		t.Fatalf("challenge %q", c[:])
	}
	if !strings.HasPrefix(MakeChallenge("42").String(), "42") {
		t.Fatal("short challenge")
	}
}

func TestNoAllocs(t *testing.T) {
	raw := goldenCases()[7].raw
	var p Packet
	buf := make([]byte, 0, MaxPacketLen)
	n := testing.AllocsPerRun(1000, func() {
		if err := Decode(raw, &p); err != nil {
			t.Fatal(err)
		}
		buf = p.Append(buf[:0])
		_ = DigestBytes(p.Proxy.Challenge.Bytes(), p.Audio[:8])
	})
	if n != 0 {
		t.Fatalf("%v allocations per decode+encode", n)
	}
	garbage := fill(90, 0xff)
	if n := testing.AllocsPerRun(1000, func() { _ = Decode(garbage, &p) }); n != 0 {
		t.Fatalf("%v allocations per rejected packet", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := goldenCases()[2].raw
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := Decode(raw, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeProxy(b *testing.B) {
	raw := goldenCases()[2].raw
	var p Packet
	_ = Decode(raw, &p)
	p.Proxied = true
	buf := make([]byte, 0, MaxPacketLen)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.Append(buf[:0])
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range goldenCases() {
		f.Add(c.raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if err := Decode(b, &p); err != nil {
			return
		}
		// Anything accepted re-encodes to the same bytes, except garbage
		// after the NUL of a proxy challenge, which Append keeps too.
		if enc := p.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("re-encode differs\n got %x\nwant %x", enc, b)
		}
	})
}
