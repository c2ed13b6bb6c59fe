package voter

import (
	"bytes"
	"fmt"
	"testing"
)

func rtpPacket(seq uint16, payload []byte) []byte {
	return append([]byte{0x80, 0, byte(seq >> 8), byte(seq), 0, 0, 0, 1, 0, 0, 0, 2}, payload...)
}

func TestParseRTP(t *testing.T) {
	ext := append([]byte{0x90, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 1, 2, 3, 4}, 9, 9)
	pad := append(rtpPacket(6, []byte{7, 7, 7}), 0, 2)
	pad[0] |= 0x20
	cases := []struct {
		b    []byte
		seq  uint16
		want []byte
		ok   bool
	}{
		{rtpPacket(3, []byte{1, 2}), 3, []byte{1, 2}, true},
		{ext, 5, []byte{9, 9}, true},
		{pad, 6, []byte{7, 7, 7}, true},
		{[]byte{0x80, 8, 0, 1}, 0, nil, false},                        // short
		{append([]byte{0x80, 8}, make([]byte, 20)...), 0, nil, false}, // PCMA, not PCMU
		{append([]byte{0x40, 0}, make([]byte, 20)...), 0, nil, false}, // version 1
		{append([]byte{0x8f, 0}, make([]byte, 20)...), 0, nil, false}, // 15 CSRCs do not fit
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			seq, p, err := parseRTP(c.b)
			if (err == nil) != c.ok || (c.ok && (seq != c.seq || !bytes.Equal(p, c.want))) {
				t.Errorf("case %d: seq %d payload %v err %v", i, seq, p, err)
			}
		})
	}
}

// Transmit audio starts after three frames, drops duplicates, and runs
// until the queue is empty.
func TestTransmitQueue(t *testing.T) {
	in := testInstance(t, "", map[string]*ClientConfig{"a": cl("a")})
	in.queueRTP(rtpPacket(10, fill(FrameLen, 1)))
	in.queueRTP(rtpPacket(10, fill(FrameLen, 9))) // duplicate
	in.queueRTP(rtpPacket(11, fill(FrameLen, 2)))
	if _, ok := in.nextTx(); ok {
		t.Fatal("transmission started before the prebuffer filled")
	}
	in.queueRTP(rtpPacket(12, fill(2*FrameLen, 3))) // 40 ms packet: two frames
	var got []byte
	for {
		f, ok := in.nextTx()
		if !ok {
			break
		}
		got = append(got, f[0])
	}
	if !bytes.Equal(got, []byte{1, 2, 3, 3}) || in.txStats.Late != 1 {
		t.Fatalf("frames %v, late %d", got, in.txStats.Late)
	}
}

func FuzzParseRTP(f *testing.F) {
	f.Add(rtpPacket(1, fill(FrameLen, 0xff)))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, p, err := parseRTP(b)
		if err == nil && len(p) > len(b) {
			t.Fatal("payload longer than packet")
		}
	})
}
