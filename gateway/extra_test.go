package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/peer/peertest"
	"github.com/redund/redund/internal/testutil"
)

func TestPairOverPinnedTLS(t *testing.T) {
	dir := t.TempDir()
	mc, mk, mfp := peertest.SelfSigned(t, dir, "m")
	bc, bk, bfp := peertest.SelfSigned(t, dir, "b")
	m, b, _ := pair(t, func(mcfg, bcfg *Config) {
		mcfg.Link = peer.Config{TLSCert: mc, TLSKey: mk, TLSPeerFingerprint: bfp}
		bcfg.Link = peer.Config{TLSCert: bc, TLSKey: bk, TLSPeerFingerprint: mfp}
	})
	m.SetConfig("over", []byte("tls"))
	testutil.Eventually(t, 3*time.Second, "config over TLS", func() bool { return docValue(t, b, ProvConfig, "over") == "tls" })
	testutil.Eventually(t, 3*time.Second, "status document says Synced", func() bool {
		docs := b.Status()
		return len(docs) == 1 && docs[0].Role == "backup/standby" && docs[0].Peer != nil && docs[0].Peer.Connected && docs[0].State == "Synced"
	})
	if s := b.Detail().Settings["auth"]; s != "tls" {
		t.Fatalf("auth setting %v", s)
	}
}

func TestClientListenerForwardsWebSocketUpgrade(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo " + line)
		rw.Flush()
	}))
	t.Cleanup(app.Close)
	port := testutil.ClosedTCPAddr(t)
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir(), ClientListen: port, AppURL: app.URL}, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	var c net.Conn
	testutil.Eventually(t, 3*time.Second, "client listener up", func() bool {
		var err error
		c, err = net.Dial("tcp", port)
		return err == nil
	})
	defer c.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: "+port+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade through the client listener: %v %v", resp, err)
	}
	io.WriteString(c, "hello\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, _ := br.ReadString('\n')
	if strings.TrimSpace(line) != "echo hello" {
		t.Fatalf("tunnel answered %q", line)
	}
}

// A backup and a master that do not pin each other's certificate: the
// backup reports the mismatch (the master cannot tell it from a stranger
// and only counts the drops), and no data crosses.
func TestWrongCertificateMismatchNoData(t *testing.T) {
	dir := t.TempDir()
	mc, mk, mfp := peertest.SelfSigned(t, dir, "m")
	bc, bk, _ := peertest.SelfSigned(t, dir, "b")
	_, _, strangerFP := peertest.SelfSigned(t, dir, "stranger")
	ln := listen(t, "127.0.0.1:0")
	mcfg, bcfg := baseCfg(t, ModeMaster, filepath.Join(dir, "m")), baseCfg(t, ModeBackup, filepath.Join(dir, "b"))
	mcfg.Link = peer.Config{TLSCert: mc, TLSKey: mk, TLSPeerFingerprint: strangerFP} // the master trusts someone else
	bcfg.Link = peer.Config{TLSCert: bc, TLSKey: bk, TLSPeerFingerprint: mfp}
	bcfg.Peer = ln.Addr().String()
	m := startGW(t, mcfg, ln)
	m.SetConfig("secret-doc", []byte("x"))
	b := startGW(t, bcfg, nil)
	testutil.Eventually(t, 5*time.Second, "the backup reports the mismatch", func() bool {
		for _, e := range b.Detail().Events {
			if strings.Contains(e.Message, "link mismatch: certificates differ") {
				return true
			}
		}
		return false
	})
	testutil.Eventually(t, 5*time.Second, "the master counts the drops", func() bool { return m.Detail().Link.Dropped >= 2 })
	if docValue(t, b, ProvConfig, "secret-doc") != "<missing>" || b.Detail().PeerConnected {
		t.Fatal("data crossed a link with an untrusted certificate")
	}
}
