package voter

import (
	"math"
	"testing"
	"time"
)

// imaEncode is a reference IMA ADPCM encoder for the tests.
func imaEncode(pcm []int16) []byte {
	out := make([]byte, ADPCMLen)
	st := imaState{pred: int32(pcm[0]), index: 40} // a running encoder's state
	be.PutUint16(out[160:162], uint16(pcm[0]))
	out[162] = 40
	for i, x := range pcm {
		step := imaStep[st.index]
		diff := int32(x) - st.pred
		var nib byte
		if diff < 0 {
			nib, diff = 8, -diff
		}
		if diff >= step {
			nib |= 4
			diff -= step
		}
		if diff >= step>>1 {
			nib |= 2
			diff -= step >> 1
		}
		if diff >= step>>2 {
			nib |= 1
		}
		st.decode(nib) // keep the encoder's state equal to the decoder's
		if i%2 == 0 {
			out[i/2] = nib << 4
		} else {
			out[i/2] |= nib
		}
	}
	return out
}

func sine(n int, hz, amp float64) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return pcm
}

func TestDecodeADPCM(t *testing.T) {
	pcm := sine(2*FrameLen, 440, 8000)
	block := imaEncode(pcm)
	out := make([]byte, 2*FrameLen)
	DecodeADPCM(block, out)
	var errSum, sigSum float64
	for i, u := range out {
		d := float64(ULawToLinear(u)) - float64(pcm[i])
		errSum += d * d
		sigSum += float64(pcm[i]) * float64(pcm[i])
	}
	if snr := 10 * math.Log10(sigSum/errSum); snr < 20 {
		t.Fatalf("SNR %.1f dB after ADPCM + µ-law, want >= 20", snr)
	}
	DecodeADPCM(block[:10], out) // short input: no panic
}

// A GPS-timed ADPCM client is placed 40 ms at a time and voted like any other.
func TestADPCMVoted(t *testing.T) {
	in := testInstance(t, "", map[string]*ClientConfig{"a": {Password: "a", ADPCM: true}, "b": cl("b")})
	a, b := in.client("a"), in.client("b")
	a.heard, b.heard = true, true
	block := imaEncode(sine(2*FrameLen, 1000, 12000))
	in.g.put(a, 0, &Packet{Kind: TypeADPCM, RSSI: 200, Audio: block})
	b.place(0, 100, fill(FrameLen, 0x20))
	b.place(FrameLen, 100, fill(FrameLen, 0x20))
	want := make([]byte, 2*FrameLen)
	DecodeADPCM(block, want)
	for half := 0; half < 2; half++ {
		in.vote(time.Now())
		if in.winner != a || string(in.frame[:]) != string(want[half*FrameLen:(half+1)*FrameLen]) {
			t.Fatalf("frame %d: winner %v, audio differs", half, in.winner)
		}
	}
}

func FuzzDecodeADPCM(f *testing.F) {
	f.Add(imaEncode(sine(2*FrameLen, 440, 8000)))
	f.Fuzz(func(t *testing.T, block []byte) {
		out := make([]byte, 2*FrameLen)
		DecodeADPCM(block, out) // never panics, whatever the predictor and index
	})
}
