package voter

import (
	"bufio"
	"encoding/binary"
	"os"
)

// ulawToLinear is the G.711 µ-law expansion table.
var ulawToLinear = func() (t [256]int16) {
	for i := range t {
		u := ^byte(i)
		exp := (u >> 4) & 7
		mant := int(u & 0x0f)
		v := ((mant << 3) + 0x84) << exp
		v -= 0x84
		if u&0x80 != 0 {
			v = -v
		}
		t[i] = int16(v)
	}
	return t
}()

// linearToULaw compresses one 16-bit sample to G.711 µ-law.
func linearToULaw(s int16) byte {
	const bias, clip = 0x84, 32635
	v := int(s)
	sign := byte(0)
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := byte(7)
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := byte(v>>(exp+3)) & 0x0f
	return ^(sign | exp<<4 | mant)
}

// ULawToLinear expands one µ-law byte.
func ULawToLinear(u byte) int16 { return ulawToLinear[u] }

// LinearToULaw compresses one sample to µ-law.
func LinearToULaw(s int16) byte { return linearToULaw(s) }

// wavWriter writes 8 kHz 16-bit mono PCM; Close fixes the header sizes.
type wavWriter struct {
	f *os.File
	w *bufio.Writer
	n uint32
}

func newWAV(path string) (*wavWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &wavWriter{f: f, w: bufio.NewWriter(f)}
	w.header()
	return w, nil
}

func (w *wavWriter) header() {
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+w.n)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 16000)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], w.n)
	_, _ = w.w.Write(h[:])
}

func (w *wavWriter) writeULaw(frame []byte) {
	var b [2 * FrameLen]byte
	for i, u := range frame {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(ulawToLinear[u]))
	}
	_, _ = w.w.Write(b[:2*len(frame)])
	w.n += uint32(2 * len(frame))
}

// Close writes the final sizes and closes the file.
func (w *wavWriter) Close() error {
	if err := w.w.Flush(); err != nil {
		w.f.Close()
		return err
	}
	if _, err := w.f.Seek(0, 0); err != nil {
		w.f.Close()
		return err
	}
	w.w.Reset(w.f)
	w.header()
	if err := w.w.Flush(); err != nil {
		w.f.Close()
		return err
	}
	return w.f.Close()
}
