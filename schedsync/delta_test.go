package schedsync

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

func roundTripDelta(t *testing.T, old, cur []byte) int {
	t.Helper()
	sig, err := makeSignature(bytes.NewReader(old), int64(len(old)))
	must(t, err)
	var sb bytes.Buffer
	must(t, sig.encode(&sb))
	sigLen := sb.Len()
	sig2, err := decodeSignature(&sb, math.MaxUint64)
	must(t, err)
	var delta bytes.Buffer
	must(t, writeDelta(&delta, bytes.NewReader(cur), sig2))
	deltaLen := delta.Len()
	var out bytes.Buffer
	must(t, applyDelta(&delta, bytes.NewReader(old), sig, &out, int64(len(cur))))
	if !bytes.Equal(out.Bytes(), cur) {
		t.Fatalf("rebuilt content differs (len %d vs %d)", out.Len(), len(cur))
	}
	return sigLen + deltaLen
}

func TestDelta(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	old := make([]byte, 4<<20+123)
	for i := range old {
		old[i] = byte(rng.Uint32())
	}
	mod := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), old...)) }
	cases := map[string]struct {
		cur []byte
		max int
	}{
		"same":      {old, 64 << 10},
		"one byte":  {mod(func(b []byte) []byte { b[len(b)/2]++; return b }), 64 << 10},
		"insert":    {mod(func(b []byte) []byte { return append(b[:1000:1000], append([]byte("xyz"), b[1000:]...)...) }), 64 << 10},
		"truncate":  {old[:len(old)-5000], 64 << 10},
		"append":    {append(append([]byte(nil), old...), "tail"...), 64 << 10},
		"empty":     {nil, 64 << 10},
		"all new":   {bytes.Repeat([]byte{7}, 100000), 1 << 30},
		"from none": {old[:0], 64 << 10},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := roundTripDelta(t, old, tc.cur)
			if n > tc.max {
				t.Errorf("%d bytes on the wire, want <= %d", n, tc.max)
			}
		})
	}
	if n := roundTripDelta(t, nil, old[:5000]); n < 5000 {
		t.Errorf("delta against an empty basis sent %d bytes for 5000 new", n)
	}
}

func TestDeltaRejectsLies(t *testing.T) {
	old := bytes.Repeat([]byte("abcdefgh"), 1000)
	sig, _ := makeSignature(bytes.NewReader(old), int64(len(old)))
	for name, d := range map[string][]byte{
		"bad block":   {'C', 200, 1, 1},
		"huge lit":    {'L', 0xff, 0xff, 0xff, 0x7f},
		"bad hash":    append([]byte{'L', 1, 'x', 'E'}, make([]byte, 8)...),
		"truncated":   {'L', 5, 'a'},
		"no end":      {},
		"unknown op":  {'Z'},
		"over budget": append([]byte{'C', 0, 7}, 'E'),
	} {
		t.Run(name, func(t *testing.T) {
			if err := applyDelta(bytes.NewReader(d), bytes.NewReader(old), sig, &bytes.Buffer{}, 10); err == nil {
				t.Errorf("%s: accepted", name)
			}
		})
	}
}

func FuzzApplyDelta(f *testing.F) {
	old := bytes.Repeat([]byte("0123456789"), 500)
	sig, _ := makeSignature(bytes.NewReader(old), int64(len(old)))
	var d bytes.Buffer
	_ = writeDelta(&d, bytes.NewReader(append([]byte("new"), old...)), sig)
	f.Add(d.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		_ = applyDelta(bytes.NewReader(data), bytes.NewReader(old), sig, &out, 1<<16)
		if out.Len() > 1<<16 {
			t.Fatalf("wrote %d bytes past the limit", out.Len())
		}
	})
}

func FuzzDecodeSignature(f *testing.F) {
	sig, _ := makeSignature(bytes.NewReader(bytes.Repeat([]byte{1}, 5000)), 5000)
	var b bytes.Buffer
	_ = sig.encode(&b)
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSignature(bytes.NewReader(data), math.MaxUint64)
		if err != nil {
			return
		}
		if len(s.weak) != len(s.strong) || int64(len(s.weak)) != (s.size+int64(s.block)-1)/int64(s.block) {
			t.Fatalf("inconsistent signature: %d blocks for size %d", len(s.weak), s.size)
		}
	})
}

func BenchmarkDeltaOneByte100MiB(b *testing.B) {
	old := bigData(100<<20, 9)
	cur := append([]byte(nil), old...)
	cur[len(cur)/2] ^= 1
	b.SetBytes(int64(len(old)))
	for b.Loop() {
		sig, _ := makeSignature(bytes.NewReader(old), int64(len(old)))
		var d bytes.Buffer
		_ = writeDelta(&d, bytes.NewReader(cur), sig)
	}
}

func BenchmarkSignature100MiB(b *testing.B) {
	old := bigData(100<<20, 9)
	b.SetBytes(int64(len(old)))
	for b.Loop() {
		_, _ = makeSignature(bytes.NewReader(old), int64(len(old)))
	}
}

func TestSigBuilderMatchesMakeSignature(t *testing.T) {
	for _, n := range []int{0, 1, 1023, 1024, 5000, 3<<20 + 7} {
		data := bigData(n, 5)
		want, _ := makeSignature(bytes.NewReader(data), int64(n))
		b := newSigBuilder(int64(n))
		for chunk := data; len(chunk) > 0; {
			k := min(len(chunk), 777)
			_, _ = b.Write(chunk[:k])
			chunk = chunk[k:]
		}
		got := b.done()
		if got == nil || len(got.weak) != len(want.weak) || got.block != want.block {
			t.Fatalf("size %d: builder gave %v", n, got)
		}
		for i := range want.weak {
			if got.weak[i] != want.weak[i] || got.strong[i] != want.strong[i] {
				t.Fatalf("size %d: block %d differs", n, i)
			}
		}
	}
}

func BenchmarkDeltaAllNew100MiB(b *testing.B) {
	old := bigData(100<<20, 9)
	cur := bigData(100<<20, 10)
	sig, _ := makeSignature(bytes.NewReader(old), int64(len(old)))
	b.SetBytes(int64(len(cur)))
	for b.Loop() {
		_ = writeDelta(io.Discard, bytes.NewReader(cur), sig)
	}
}
