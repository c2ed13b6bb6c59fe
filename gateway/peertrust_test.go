package gateway

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/testutil"
)

// stranger speaks the peer protocol by hand, as someone without the
// secret would: frames are a 4-byte big-endian length, a type byte and the
// payload; 0x01 is a dialer's first frame (here protocol 1's: "RDP1", auth
// mode 1 and a 32-byte nonce, which a protocol 2 master answers with an
// AuthFail code, never a challenge), 0x05 a Refuse with its reason.
func strangerFrame(typ byte, payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	return append(append(b, typ), payload...)
}

// A stranger's Refuse frame, before it has authenticated, while the
// master waits for its peer: no on_fault hook, no system event, no state
// change and none of its text (terminal escapes included) in the status;
// each attempt is a counted drop.
func TestStrangersRefuseRunsNoFaultHook(t *testing.T) {
	dir := t.TempDir()
	faults, active := filepath.Join(dir, "faults"), filepath.Join(dir, "active")
	mc := baseCfg(t, ModeMaster, filepath.Join(dir, "m"))
	mc.JoinWait = config.Duration(1500 * time.Millisecond)
	mc.OnFault = []string{"sh", "-c", `echo "$REDUND_REASON" >> ` + faults}
	mc.OnActive = []string{"sh", "-c", "touch " + active}
	ln := listen(t, "127.0.0.1:0")
	m := startGW(t, mc, ln)
	const evil = "\x1b[31mEVIL"
	for _, first := range [][]byte{
		strangerFrame(0x01, "RDP1\x01"+strings.Repeat("n", 32)), // then the Refuse, after the master's answer
		strangerFrame(0x05, evil),                               // the Refuse as the first frame
	} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(first)
		if first[4] == 0x01 {
			var hdr [4]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				t.Fatalf("no answer to the first frame: %v", err)
			}
			_, _ = io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(hdr[:])))
			_, _ = c.Write(strangerFrame(0x05, evil))
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, c) // until the master closes it
		c.Close()
	}
	// hooks run in order: once on_active has run, an on_fault queued by
	// the stranger would have run too
	testutil.Eventually(t, 5*time.Second, "the master runs on_active after join_wait", func() bool {
		_, err := os.Stat(active)
		return err == nil
	})
	if b, err := os.ReadFile(faults); err == nil {
		t.Fatalf("on_fault ran for a stranger: REDUND_REASON=%q", b)
	}
	doc, _ := json.Marshal(m.Detail())
	if strings.Contains(string(doc), "EVIL") || strings.Contains(string(doc), "refused") {
		t.Fatalf("the stranger reached the status: %s", doc)
	}
	if st := m.Detail().Link; st.Dropped != 2 || st.State == peer.Refused {
		t.Fatalf("link %+v", st)
	}
}
