package voter

// IMA ADPCM as VOTER clients send it (payload type 3): 160 bytes of
// nibbles (320 samples, 40 ms, first sample in the high nibble), then the
// predictor (int16, big endian) and the step index the block starts from.

var imaStep = [89]int32{7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
	50, 55, 60, 66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371,
	408, 449, 494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066,
	2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493,
	10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767}

var imaIndex = [16]int32{-1, -1, -1, -1, 2, 4, 6, 8, -1, -1, -1, -1, 2, 4, 6, 8}

// imaState is the decoder (and encoder) state.
type imaState struct {
	pred  int32
	index int32
}

func (s *imaState) decode(nib byte) int16 {
	step := imaStep[s.index]
	diff := step >> 3
	if nib&4 != 0 {
		diff += step
	}
	if nib&2 != 0 {
		diff += step >> 1
	}
	if nib&1 != 0 {
		diff += step >> 2
	}
	if nib&8 != 0 {
		s.pred -= diff
	} else {
		s.pred += diff
	}
	s.pred = min(max(s.pred, -32768), 32767)
	s.index = min(max(s.index+imaIndex[nib&15], 0), 88)
	return int16(s.pred)
}

// DecodeADPCM expands one 163-byte ADPCM block into 320 µ-law samples
// (dst must hold 320 bytes).
func DecodeADPCM(block []byte, dst []byte) {
	if len(block) < ADPCMLen || len(dst) < 2*FrameLen {
		return
	}
	st := imaState{pred: int32(int16(be.Uint16(block[160:162]))), index: min(int32(block[162]), 88)}
	for i := 0; i < FrameLen; i++ {
		b := block[i]
		dst[2*i] = linearToULaw(st.decode(b >> 4))
		dst[2*i+1] = linearToULaw(st.decode(b & 15))
	}
}

// encode returns the nibble for sample x and moves the state as the
// decoder will (IMA: the nibble is the difference in quarter steps).
func (s *imaState) encode(x int16) byte {
	step := imaStep[s.index]
	diff := int32(x) - s.pred
	var nib byte
	if diff < 0 {
		nib, diff = 8, -diff
	}
	for bit := byte(4); bit != 0; bit >>= 1 {
		if diff >= step {
			nib |= bit
			diff -= step
		}
		step >>= 1
	}
	s.decode(nib)
	return nib
}

// encodeBlock packs 320 µ-law samples (40 ms) into one 163-byte ADPCM
// block as VOTER boards decode it: the state st starts from goes in the
// trailer (predictor, step index), then st carries on to the next block.
func (st *imaState) encodeBlock(ulaw []byte, dst []byte) {
	start := *st
	for i := 0; i < FrameLen; i++ {
		hi := st.encode(ulawToLinear[ulaw[2*i]])
		lo := st.encode(ulawToLinear[ulaw[2*i+1]])
		dst[i] = hi<<4 | lo
	}
	be.PutUint16(dst[160:162], uint16(int16(start.pred)))
	dst[162] = byte(start.index)
}
