package voter

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSimOptions(t *testing.T) {
	bad := []SimOptions{
		{Server: "nope", Password: "a"},
		{Server: "127.0.0.1:1667", Password: "same", Count: 3},
		{Server: "127.0.0.1:1667", Password: "a", RSSI: "10,300"},
		{Server: "127.0.0.1:1667", Password: "a", WAV: "/does/not/exist.wav"},
		{Server: "127.0.0.1:1667", Password: "c%d", Count: -3},
		{Server: "127.0.0.1:1667", Password: "a", Every: -time.Millisecond},
	}
	for i, o := range bad {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			if _, err := NewSimFromOptions(o); err == nil {
				t.Errorf("case %d: no error", i)
			}
		})
	}
	s, err := NewSimFromOptions(SimOptions{Server: "127.0.0.1:1667", Password: "c%d", Count: 3,
		MasterPassword: "m", RSSI: "10,20", Tone: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.clients) != 4 || !s.clients[0].Master || s.clients[3].Password != "c3" {
		t.Fatalf("clients: %+v", s.clients)
	}
	if r := s.clients[1].RSSI; r(0) != 10 || r(1) != 20 || r(2) != 10 {
		t.Error("RSSI pattern not cycled")
	}
	frame := make([]byte, FrameLen)
	s.clients[1].Audio(0, frame)
	if allBytes(frame, frame[0]) {
		t.Error("tone is constant")
	}
}

// The recorder writes a WAV that the simulator can read back.
func TestWAVRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.wav")
	w, err := newWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	w.writeULaw(fill(FrameLen, LinearToULaw(1000)))
	w.writeULaw(fill(FrameLen, 0xff))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pcm, err := readWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != 2*FrameLen || pcm[0] != ULawToLinear(LinearToULaw(1000)) || pcm[FrameLen] != 0 {
		t.Fatalf("read back %d samples, first %d", len(pcm), pcm[0])
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "RIFF") || len(b) != 44+4*FrameLen {
		t.Fatalf("file of %d bytes", len(b))
	}
}

func TestDBFS(t *testing.T) {
	for peak, want := range map[int]int{0: -100, 32768: 0, 16384: -6, 3277: -20} {
		t.Run(fmt.Sprint(peak), func(t *testing.T) {
			if got := dBFS(peak); got != want {
				t.Errorf("dBFS(%d) = %d, want %d", peak, got, want)
			}
		})
	}
}
