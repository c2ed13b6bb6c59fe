package voter

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The high-pass (plfilter) and de-emphasis (hostdeemp) give, sample for
// sample, what chan_voter's C arithmetic gives: testdata/filters.golden
// is the output of testdata/filters_golden.c (input, high-passed,
// high-passed then de-emphasised, as chan_voter chains them).
func TestRxFiltersGolden(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "filters.golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pl plFilter
	var de deemp
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var x, h, d int16
		if _, err := fmt.Sscan(sc.Text(), &x, &h, &d); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if gh := pl.step(x); gh != h {
			t.Fatalf("sample %d: high-pass %d, C %d", n, gh, h)
		}
		if gd := de.step(h); gd != d {
			t.Fatalf("sample %d: de-emphasis %d, C %d", n, gd, d)
		}
		n++
	}
	if n != 800 {
		t.Fatalf("%d samples in the golden file", n)
	}
}

// With plfilter and hostdeemp the voted frame on RTP is the filtered
// winner's audio; a frame without a winner (silence) is not filtered and
// does not advance the filters.
func TestRxFiltersOnVotedFrame(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"a": cl("apw")})
	cfg.PLFilter, cfg.HostDeemp = true, true
	in := offlineGroup(t, map[string]*Config{"x": cfg}).insts[0]
	frame := fill8(FrameLen, linearToULaw(8000))
	var pl plFilter
	var de deemp
	want := make([]byte, FrameLen)
	for i := range want {
		want[i] = linearToULaw(de.step(pl.step(ulawToLinear[frame[i]])))
	}
	got := append([]byte(nil), frame...)
	in.filterVoted(got)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d: %#x, want %#x", i, got[i], want[i])
		}
	}
	in.cfg.PLFilter, in.cfg.HostDeemp = false, false
	plain := append([]byte(nil), frame...)
	in.filterVoted(plain)
	if string(plain) != string(frame) {
		t.Error("filters ran while off")
	}
}
