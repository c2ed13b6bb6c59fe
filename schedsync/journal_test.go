package schedsync

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func sampleJournal() *journal {
	return &journal{path: "dir/big.bin", dev: 2049, ino: 1234567, oldSize: 100 << 20, newSize: 100<<20 + 5,
		mode: 0o4755, mtime: -1, hash: contentSum([]byte("x")),
		writes: []extent{{off: 0, data: []byte("head")}, {off: 50 << 20, data: bytes.Repeat([]byte{7}, 16384)},
			{off: 100 << 20, data: []byte("tail!")}}}
}

func TestJournalRoundTrip(t *testing.T) {
	cases := map[string]*journal{
		"writes":    sampleJournal(),
		"no writes": {path: "a", oldSize: 10, newSize: 3, mode: 0o644, mtime: 1700000000123456789},
	}
	for name, j := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := decodeJournal(j.encode())
			must(t, err)
			if !reflect.DeepEqual(got, j) {
				t.Fatalf("decoded %+v, want %+v", got, j)
			}
		})
	}
}

// TestJournalRejectsDamage: a journal cut anywhere (a crash while it was
// written) or changed anywhere is never taken for a complete one.
func TestJournalRejectsDamage(t *testing.T) {
	b := sampleJournal().encode()
	for _, n := range []int{0, 3, 4, 10, len(b) / 2, len(b) - 9, len(b) - 1} {
		if _, err := decodeJournal(b[:n]); err == nil {
			t.Fatalf("a journal cut at %d of %d bytes was accepted", n, len(b))
		}
	}
	for _, i := range []int{0, 5, 20, len(b) / 2, len(b) - 1} {
		c := bytes.Clone(b)
		c[i] ^= 1
		if _, err := decodeJournal(c); err == nil {
			t.Fatalf("a journal with byte %d changed was accepted", i)
		}
	}
	bad := sampleJournal()
	bad.path = "../escape"
	if _, err := decodeJournal(bad.encode()); err == nil {
		t.Fatal("a journal for a path outside the directory was accepted")
	}
	bad = sampleJournal()
	bad.writes = append(bad.writes, extent{off: bad.newSize - 1, data: []byte("past the end")})
	if _, err := decodeJournal(bad.encode()); err == nil {
		t.Fatal("a journal writing past the new size was accepted")
	}
}

func FuzzDecodeJournal(f *testing.F) {
	f.Add(sampleJournal().encode())
	f.Add((&journal{path: "a", newSize: 1, writes: []extent{{off: 0, data: []byte{1}}}}).encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := decodeJournal(data)
		if err != nil {
			return
		}
		if checkRelPath(j.path) != nil {
			t.Fatalf("accepted path %q", j.path)
		}
		for _, w := range j.writes {
			if w.off < 0 || w.off+int64(len(w.data)) > j.newSize {
				t.Fatalf("accepted a write at %d+%d past the new size %d", w.off, len(w.data), j.newSize)
			}
		}
		if !bytes.Equal(j.encode(), data) {
			t.Fatal("a decoded journal does not encode to the same bytes")
		}
	})
}

// crashFixture is a file with an in-place update about to be applied: the
// old and new content, the journal for it, and the writer.
type crashFixture struct {
	w        *writer
	dir      string
	old, cur []byte
	j        *journal
}

func newCrashFixture(t *testing.T, grow int) *crashFixture {
	t.Helper()
	dir := t.TempDir()
	old := bigData(1<<20, 3)
	cur := append(bytes.Clone(old), bytes.Repeat([]byte{9}, grow)...)
	copy(cur[1000:], "changed near the start")
	copy(cur[600000:], "changed in the middle")
	must(t, os.WriteFile(filepath.Join(dir, "f.bin"), old, 0o644))
	fi, err := os.Stat(filepath.Join(dir, "f.bin"))
	must(t, err)
	dev, ino, _ := fileID(fi)
	w, err := openWriter(dir)
	must(t, err)
	t.Cleanup(func() { _ = w.close() })
	var writes []extent
	for _, off := range []int{1000, 600000} {
		writes = append(writes, extent{off: int64(off), data: bytes.Clone(cur[off : off+32])})
	}
	if grow > 0 {
		writes = append(writes, extent{off: int64(len(old)), data: bytes.Clone(cur[len(old):])})
	}
	j := &journal{path: "f.bin", dev: dev, ino: ino, oldSize: int64(len(old)), newSize: int64(len(cur)),
		mode: 0o640, mtime: 1234567890e9, hash: contentSum(cur), writes: writes}
	return &crashFixture{w: w, dir: dir, old: old, cur: cur, j: j}
}

func (c *crashFixture) content(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "f.bin"))
	must(t, err)
	return b
}

func (c *crashFixture) journals(t *testing.T) int {
	ents, _ := os.ReadDir(filepath.Join(c.dir, filepath.FromSlash(journalDir)))
	return len(ents)
}

// TestJournalReplayAfterCrash: whatever moment a crash interrupts an
// in-place update at, the next start leaves the old content or the new
// one, never a mix, and records the file as written only when it holds
// the new content.
func TestJournalReplayAfterCrash(t *testing.T) {
	cases := []struct {
		name    string
		grow    int
		crash   func(t *testing.T, c *crashFixture)
		wantNew bool
	}{
		{"journal half written", 0, func(t *testing.T, c *crashFixture) {
			b := c.j.encode()
			must(t, os.MkdirAll(filepath.Join(c.dir, filepath.FromSlash(journalDir)), 0o700))
			must(t, os.WriteFile(filepath.Join(c.dir, filepath.FromSlash(journalDir), "x"), b[:len(b)/2], 0o600))
		}, false},
		{"journal durable, nothing applied", 0, func(t *testing.T, c *crashFixture) {
			_, err := c.w.writeJournal(c.j)
			must(t, err)
		}, true},
		{"one write applied of two", 0, func(t *testing.T, c *crashFixture) {
			_, err := c.w.writeJournal(c.j)
			must(t, err)
			f, err := os.OpenFile(filepath.Join(c.dir, "f.bin"), os.O_RDWR, 0)
			must(t, err)
			_, err = f.WriteAt(c.j.writes[0].data, c.j.writes[0].off)
			must(t, err)
			must(t, f.Close())
		}, true},
		{"grown, writes applied, not truncated, no mtime", 1000, func(t *testing.T, c *crashFixture) {
			_, err := c.w.writeJournal(c.j)
			must(t, err)
			f, err := os.OpenFile(filepath.Join(c.dir, "f.bin"), os.O_RDWR, 0)
			must(t, err)
			for _, e := range c.j.writes {
				_, err = f.WriteAt(e.data, e.off)
				must(t, err)
			}
			must(t, f.Close())
		}, true},
		{"all applied, journal not yet dropped", 0, func(t *testing.T, c *crashFixture) {
			must(t, c.w.updateInPlace(openRW(t, c.dir), c.j))
			_, err := c.w.writeJournal(c.j)
			must(t, err)
		}, true},
		{"file edited since, same inode", 0, func(t *testing.T, c *crashFixture) {
			name, err := c.w.writeJournal(c.j)
			must(t, err)
			// the crash came two minutes ago; an operator restored the
			// file now, through the same inode (cp over it)
			ago := time.Now().Add(-2 * time.Minute)
			must(t, os.Chtimes(filepath.Join(c.dir, filepath.FromSlash(name)), ago, ago))
			f := openRW(t, c.dir)
			_, err = f.WriteAt(c.j.writes[0].data, c.j.writes[0].off) // half applied at the crash
			must(t, err)
			_, err = f.WriteAt(c.old, 0) // then the operator's restore
			must(t, err)
		}, false},
		{"file replaced since", 0, func(t *testing.T, c *crashFixture) {
			_, err := c.w.writeJournal(c.j)
			must(t, err)
			must(t, os.Rename(filepath.Join(c.dir, "f.bin"), filepath.Join(c.dir, "moved")))
			must(t, os.WriteFile(filepath.Join(c.dir, "f.bin"), c.old, 0o644))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCrashFixture(t, tc.grow)
			tc.crash(t, c)
			done, errs := c.w.replayJournals()
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got := c.content(t)
			switch {
			case tc.wantNew && !bytes.Equal(got, c.cur):
				t.Fatal("the update was not completed")
			case !tc.wantNew && !bytes.Equal(got, c.old):
				t.Fatal("the file was changed")
			case tc.wantNew && (len(done) != 1 || done[0].Hash != c.j.hash || done[0].MTime != c.j.mtime):
				t.Fatalf("recorded %+v, want the journal's entry", done)
			case !tc.wantNew && len(done) != 0:
				t.Fatalf("recorded %+v for a file not updated", done)
			case c.journals(t) != 0:
				t.Fatal("a journal was left behind")
			}
			if tc.wantNew {
				fi, err := os.Stat(filepath.Join(c.dir, "f.bin"))
				must(t, err)
				if fi.ModTime().UnixNano() != c.j.mtime || fi.Mode().Perm() != 0o640 {
					t.Fatalf("mtime %v mode %v, want the journal's", fi.ModTime(), fi.Mode())
				}
			}
		})
	}
}

func openRW(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "f.bin"), os.O_RDWR, 0)
	must(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestPlanInPlace: a delta that changes bytes where they are becomes a few
// small writes that turn the old file into the new one; one that moves
// the content is refused (rebuilt into a temporary file instead).
func TestPlanInPlace(t *testing.T) {
	old := bigData(1<<20, 5)
	changed := bytes.Clone(old)
	changed[500000] ^= 0xff
	grown := append(bytes.Clone(old), "more at the end"...)
	shrunk := bytes.Clone(old[:700000])
	shifted := append([]byte("inserted at the start"), old...)
	cases := []struct {
		name     string
		cur      []byte
		maxWrite int
		tooBig   bool
	}{
		{"one byte", changed, 1 << 16, false},
		{"grown", grown, 1 << 16, false},
		{"shrunk", shrunk, 1024, false}, // the cut last block is a literal
		{"shifted", shifted, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := makeSignature(bytes.NewReader(old), int64(len(old)))
			must(t, err)
			var d bytes.Buffer
			must(t, writeDelta(&d, bytes.NewReader(tc.cur), sig))
			writes, size, err := planInPlace(&d, bytes.NewReader(old), sig, int64(len(tc.cur)), inPlaceLimit(int64(len(tc.cur))))
			if tc.tooBig {
				if err != errInPlaceTooBig {
					t.Fatalf("err %v, want errInPlaceTooBig", err)
				}
				return
			}
			must(t, err)
			total := 0
			for _, w := range writes {
				total += len(w.data)
			}
			if size != int64(len(tc.cur)) || total > tc.maxWrite {
				t.Fatalf("size %d, %d bytes written; want %d, at most %d", size, total, len(tc.cur), tc.maxWrite)
			}
			res, err := io.ReadAll(io.NewSectionReader(overlay{basis: bytes.NewReader(old), writes: writes, size: size}, 0, size))
			must(t, err)
			if !bytes.Equal(res, tc.cur) {
				t.Fatal("the old content with the writes is not the new content")
			}
			ns, err := sig.updated(writes, size, bytes.NewReader(res))
			must(t, err)
			want, err := makeSignature(bytes.NewReader(res), size)
			must(t, err)
			if ns != nil && !reflect.DeepEqual(ns, want) {
				t.Fatal("the updated signature differs from the new content's")
			}
		})
	}
}

// FuzzPlanInPlace: whatever the delta stream, the in-place plan writes
// nothing past the size limit, and a plan it accepts rebuilds exactly what
// the rename path's applyDelta rebuilds.
func FuzzPlanInPlace(f *testing.F) {
	old := bytes.Repeat([]byte("0123456789abcdef"), 400) // 6,400 bytes: 1 KiB blocks
	sig, _ := makeSignature(bytes.NewReader(old), int64(len(old)))
	for _, cur := range [][]byte{append([]byte("new"), old...), append(bytes.Clone(old[:3000]), 'x'), old} {
		var d bytes.Buffer
		_ = writeDelta(&d, bytes.NewReader(cur), sig)
		f.Add(d.Bytes())
	}
	const max = 1 << 14
	f.Fuzz(func(t *testing.T, data []byte) {
		writes, size, err := planInPlace(bytes.NewReader(data), bytes.NewReader(old), sig, max, max)
		if err != nil {
			return
		}
		if size > max {
			t.Fatalf("result of %d bytes past the limit", size)
		}
		var want bytes.Buffer
		if err := applyDelta(bytes.NewReader(data), bytes.NewReader(old), sig, &want, max); err != nil {
			t.Fatalf("the plan accepted a delta applyDelta refuses: %v", err)
		}
		got, err := io.ReadAll(io.NewSectionReader(overlay{basis: bytes.NewReader(old), writes: writes, size: size}, 0, size))
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("the plan rebuilds %d bytes, applyDelta %d, or they differ (%v)", len(got), want.Len(), err)
		}
	})
}
