package schedsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer/peertest"
	"github.com/redund/redund/internal/testutil"
)

func tlsPair(t *testing.T, wrongPin bool) (*testNode, *testNode) {
	ca, ka, fa := peertest.SelfSigned(t, t.TempDir(), "a")
	cb, kb, fb := peertest.SelfSigned(t, t.TempDir(), "b")
	if wrongPin {
		_, _, fb = peertest.SelfSigned(t, t.TempDir(), "intruder")
	}
	return startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		a.Secret, b.Secret = "", ""
		a.Peer = strings.Replace(a.Peer, "http:", "https:", 1)
		b.Peer = strings.Replace(b.Peer, "http:", "https:", 1)
		a.TLSCert, a.TLSKey, a.TLSPeerFingerprint = ca, ka, fb
		b.TLSCert, b.TLSKey, b.TLSPeerFingerprint = cb, kb, fa
	})
}

func TestPinnedTLSPair(t *testing.T) {
	p, s := tlsPair(t, false)
	writeFile(t, p.dir, "over-tls.txt", "secret content", 0o644)
	waitSame(t, p, s, "copy over TLS")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
}

func TestPinnedTLSWrongPeerRefused(t *testing.T) {
	p, s := tlsPair(t, true)
	writeFile(t, p.dir, "x", "1", 0o644)
	testutil.Eventually(t, 10*time.Second, "a TLS refusal", func() bool {
		return strings.Contains(s.Status()[0].Reason, "certificate")
	})
	if _, err := os.Stat(filepath.Join(s.dir, "x")); err == nil {
		t.Fatal("synced from a peer whose certificate is not pinned")
	}
	if st := s.state(); st == StateSynced {
		t.Fatalf("state %s", st)
	}
}
