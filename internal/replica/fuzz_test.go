package replica

import (
	"encoding/binary"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"

	"github.com/redund/redund/internal/text"
)

// FuzzDecode feeds arbitrary bytes to every wire decoder of the package.
func FuzzDecode(f *testing.F) {
	f.Add(pullReq{Provider: "config", LogID: "ab", Applied: 3, Max: 10, WaitMS: 1000}.encode())
	f.Add(pullResp{LogID: "ab", First: 1, Last: 2, Entries: []Entry{{Seq: 2, Op: OpPut, Key: "k", Value: []byte("v"), Time: 5}}}.encode())
	f.Add(snapReq{Provider: "state", After: "k", MaxBytes: 10}.encode())
	f.Add(snapResp{LogID: "ab", Seq: 9, Done: true, Keys: []string{"k"}, Vals: [][]byte{[]byte("12345678v")}}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodePullResp(b); err == nil {
			if len(r.Reason) > maxReason || text.Clean(r.Reason) != r.Reason || len(r.LogID) > maxLogID || text.Clean(r.LogID) != r.LogID {
				t.Fatalf("peer text kept as sent: %q %q", r.LogID, r.Reason)
			}
			back, err := decodePullResp(r.encode())
			if err != nil || len(back.Entries) != len(r.Entries) {
				t.Fatalf("pull response does not round-trip: %v", err)
			}
		}
		if r, err := decodeSnapResp(b); err == nil {
			if len(r.Keys) != len(r.Vals) {
				t.Fatal("keys and values differ in number")
			}
			if checkPage("", r) == nil {
				for i := 1; i < len(r.Keys); i++ {
					if r.Keys[i] <= r.Keys[i-1] {
						t.Fatalf("a page out of order accepted: %q", r.Keys)
					}
				}
			}
		}
		_, _ = decodePullReq(b)
		_, _ = decodeSnapReq(b)
		_, _ = decodeEntry(b)
	})
}

// FuzzStoreFile feeds arbitrary bytes, as the start of a store file, to
// the check Open makes before bbolt maps the file: it must not panic, and
// a meta page it accepts must carry bbolt's magic, version and checksum.
func FuzzStoreFile(f *testing.F) {
	page := make([]byte, 4096)
	binary.NativeEndian.PutUint32(page[boltMetaOffset:], boltMagic)
	binary.NativeEndian.PutUint32(page[boltMetaOffset+4:], boltVersion)
	binary.NativeEndian.PutUint32(page[boltMetaOffset+8:], 4096)
	binary.NativeEndian.PutUint64(page[boltMetaOffset+40:], 1<<40) // a high-water mark no file reaches
	h := fnv.New64a()
	h.Write(page[boltMetaOffset : boltMetaOffset+boltMetaSum])
	binary.NativeEndian.PutUint64(page[boltMetaOffset+boltMetaSum:], h.Sum64())
	f.Add(page)
	f.Add(page[:100])
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, ok := parseBoltMeta(b); ok && m.pageSize != binary.NativeEndian.Uint32(b[boltMetaOffset+8:]) {
			t.Fatalf("meta %+v", m)
		}
		path := filepath.Join(dir, "f.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = checkFile(path)
	})
}
