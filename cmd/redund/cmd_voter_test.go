package main

import (
	"encoding/json"
	"net"
	"testing"
	"time"
)

// TestVoterClientJSON: with --duration and --json the simulator prints one
// JSON summary per client, and it did send to the server.
func TestVoterClientJSON(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // a server that never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	out, code := runCLI(t, "voter", "client", "--server", pc.LocalAddr().String(), "--password", "c%d",
		"--host-password", "pw", "--count", "2", "--duration", "300ms", "--json")
	var got []struct {
		Name      string
		Connected bool
		Sent      int
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitOK {
		t.Fatalf("code %d, %v:\n%s", code, err, out)
	}
	if len(got) != 2 || got[0].Sent == 0 || got[0].Connected {
		t.Errorf("summary %+v, want 2 unconnected clients that sent", got)
	}
	if err := pc.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pc.ReadFrom(make([]byte, 2048)); err != nil {
		t.Errorf("the server got nothing: %v", err)
	}
}
