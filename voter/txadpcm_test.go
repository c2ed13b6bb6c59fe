package voter

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// IMA encoding, checked by hand from the standard tables: from predictor
// 0 and step index 0 (step 7), sample 100 is 7 (4+2+1 steps), giving
// predictor 0+7+3+1 = 11 and index 8 (step 16); then sample 100 again is
// 0b0111 (89 >= 16, 73 >= 8, 65 >= 4) → predictor 11+2+16+8+4 = 41.
func TestIMAEncodeByHand(t *testing.T) {
	var st imaState
	if n := st.encode(100); n != 7 || st.pred != 11 || st.index != 8 {
		t.Fatalf("first: nibble %d pred %d index %d", n, st.pred, st.index)
	}
	if n := st.encode(100); n != 7 || st.pred != 41 || st.index != 16 {
		t.Fatalf("second: nibble %d pred %d index %d", n, st.pred, st.index)
	}
	if n := st.encode(-1000); n&8 == 0 {
		t.Fatalf("negative difference without the sign bit: %d", n)
	}
}

// toneULaw is n µ-law samples of a 1 kHz tone at -6 dBFS.
func toneULaw(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = linearToULaw(int16(16384 * math.Sin(2*math.Pi*1000*float64(i)/8000)))
	}
	return out
}

// A tone encoded block by block decodes (with the receive decoder, which
// reads VOTER boards' blocks) to the same tone: each block's trailer
// holds the state it starts from, so any block decodes on its own.
func TestADPCMRoundTrip(t *testing.T) {
	in := toneULaw(4 * 2 * FrameLen)
	var st imaState
	var block [ADPCMLen]byte
	var out [2 * FrameLen]byte
	for b := 0; b < 4; b++ {
		src := in[b*2*FrameLen : (b+1)*2*FrameLen]
		st.encodeBlock(src, block[:])
		DecodeADPCM(block[:], out[:])
		var sig, noise float64
		for i := range out {
			x, y := float64(ulawToLinear[src[i]]), float64(ulawToLinear[out[i]])
			sig += x * x
			noise += (x - y) * (x - y)
		}
		if b > 0 && 10*math.Log10(sig/noise) < 20 {
			t.Errorf("block %d: SNR %.1f dB", b, 10*math.Log10(sig/noise))
		}
	}
}

// What the server sends an `adpcm` + `transmit` client, byte for byte as
// chan_voter's audiopacket for it: 24-byte header (master time, our
// challenge, the client's digest, type 3), RSSI 0, 160 bytes of nibbles,
// predictor and step index: 188 bytes, one per two transmit frames.
func TestADPCMTransmitPacket(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"a": {Password: "apw", ADPCM: true, Transmit: true},
		"u": {Password: "upw", Transmit: true}})
	cfg.Challenge = "12345678"
	g := offlineGroup(t, map[string]*Config{"x": cfg})
	for i, c := range g.clients {
		c.heard, c.respDigest = true, Digest([]byte("999"), "hostpw")
		c.setAddr(netip4(4000 + i))
	}
	g.masterSec, g.masterNsec = 1700000000, 20000000
	in := g.insts[0]
	tone := toneULaw(4 * FrameLen)
	for f := 0; f < 4; f++ {
		in.queueRTP(rtpPacket(uint16(f+1), tone[f*FrameLen:(f+1)*FrameLen]))
	}
	var adpcm [][]byte
	for cycle := 0; cycle < 5; cycle++ {
		in.transmit(emitNow)
		for _, b := range sent(g) {
			if binary.BigEndian.Uint16(b[22:24]) == TypeADPCM {
				adpcm = append(adpcm, b)
			}
		}
	}
	if len(adpcm) != 2 {
		t.Fatalf("%d ADPCM packets for 4 frames, want 2", len(adpcm))
	}
	var st imaState
	for k, b := range adpcm {
		var want []byte
		want = binary.BigEndian.AppendUint32(want, 1700000000)
		want = binary.BigEndian.AppendUint32(want, 20000000)
		want = append(want, "12345678\x00\x00"...)
		want = binary.BigEndian.AppendUint32(want, Digest([]byte("999"), "hostpw"))
		want = binary.BigEndian.AppendUint16(want, 3)
		want = append(want, 0) // RSSI
		var block [ADPCMLen]byte
		pred, index := st.pred, st.index
		st.encodeBlock(tone[k*2*FrameLen:(k+1)*2*FrameLen], block[:])
		want = append(want, block[:]...)
		if !bytes.Equal(b, want) {
			t.Fatalf("packet %d:\n got % x\nwant % x", k, b, want)
		}
		if int16(binary.BigEndian.Uint16(b[185:187])) != int16(pred) || int32(b[187]) != index {
			t.Errorf("packet %d trailer % x, want the state at block start %d/%d", k, b[185:], pred, index)
		}
	}
}
