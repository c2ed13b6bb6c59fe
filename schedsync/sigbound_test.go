package schedsync

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// forgedSignature is a well-formed signature header claiming a basis of
// size bytes in blocks of block bytes, followed by every block record.
func forgedSignature(block, size uint64) []byte {
	buf := []byte(sigMagic)
	buf = binary.AppendUvarint(buf, block)
	buf = binary.AppendUvarint(buf, size)
	n := (size + block - 1) / block
	return append(buf, make([]byte, 12*n)...)
}

// The primary bounds a delta signature by its file before reading the
// blocks: an authenticated secondary forging a huge basis for a small file
// (or a block size that is not the protocol's) is refused, counted, and
// costs no allocation of its blocks.
func TestDeltaSignatureBoundedByFile(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	must(t, os.WriteFile(filepath.Join(dir, "f"), content, 0o644))
	w, err := openWriter(dir)
	must(t, err)
	t.Cleanup(func() { _ = w.close() })
	n := &Node{log: slog.New(slog.NewTextHandler(io.Discard, nil)), w: w, metrics: newMetrics(), match: newMatcher(nil)}

	var legit bytes.Buffer
	sig, err := makeSignature(bytes.NewReader(content[:len(content)/2]), int64(len(content)/2))
	must(t, err)
	must(t, sig.encode(&legit))

	cases := []struct {
		name     string
		body     []byte
		code     int
		maxAlloc uint64 // bytes the request may allocate; 0: not measured
	}{
		// 16 GiB in the protocol's 64 KiB blocks: 262,144 blocks, 3 MiB of
		// records, which the primary held (and indexed) before
		{"basis over 4 times the file", forgedSignature(1<<16, 16<<30), http.StatusRequestEntityTooLarge, 256 << 10},
		// 4 MiB is within 4 times, but its protocol block is 2 KiB, not 1 KiB
		{"block size not the protocol's", forgedSignature(1<<10, 4<<20), http.StatusRequestEntityTooLarge, 0},
		{"the secondary's own signature", legit.Bytes(), http.StatusOK, 0},
	}
	refused := 0.0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/delta?path=f", bytes.NewReader(c.body))
			rec := httptest.NewRecorder()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			n.serveDelta(rec, &peerRequest{Request: req})
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; c.maxAlloc > 0 && got > c.maxAlloc {
				t.Errorf("the request allocated %d bytes, want at most %d", got, c.maxAlloc)
			}
			if rec.Code != c.code {
				t.Fatalf("status %d, want %d", rec.Code, c.code)
			}
			if c.code == http.StatusRequestEntityTooLarge {
				refused++
			}
			var m dto.Metric
			must(t, n.metrics.bigSigs.Write(&m))
			if got := m.GetCounter().GetValue(); got != refused {
				t.Errorf("refused_signatures_total %v, want %v", got, refused)
			}
		})
	}
}
