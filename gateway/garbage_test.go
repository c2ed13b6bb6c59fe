package gateway

import (
	"net"
	"testing"
	"time"
)

func sendGarbage(t *testing.T, addr, junk string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte(junk))
	_ = c.SetReadDeadline(time.Now().Add(7 * time.Second))
	if _, err := c.Read(make([]byte, 16)); err == nil {
		t.Fatalf("peer port answered garbage %q", junk)
	}
}
