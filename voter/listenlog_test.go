package voter

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// voter serve logs every UDP port it bound, the kernel-chosen ones
// included, so an operator can see them and firewall them.
func TestListenLogsBoundPorts(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := voterCfg("127.0.0.1:0", "127.0.0.1:5004", map[string]*ClientConfig{"z": cl("zpw")})
	cfg.RTPIn = "127.0.0.1:0"
	sec := pairCfg("127.0.0.1:0", "", "127.0.0.1:1667,linkpw")
	sec["main"] = cfg
	s, err := New(sec, Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	out := buf.String()
	for _, want := range []string{
		"instance=main voter=" + s.Addr("main").String(),
		"rtp_in=" + s.RTPInAddr("main").String(),
		"rtp_out_from=" + s.RTPInAddr("main").String(), // symmetric RTP
		"instance=red voter=" + s.Addr("red").String(),
		"link=" + s.insts["red"].link.conn.LocalAddr().String(),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
