package peertest_test

import (
	"testing"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/peer/peertest"
)

// The files load as a key pair, and the fingerprint is peer's.
func TestSelfSigned(t *testing.T) {
	dir := t.TempDir()
	cert, key, fp := peertest.SelfSigned(t, dir, "a")
	if _, err := peer.PinnedTLS(cert, key, fp); err != nil {
		t.Fatal(err)
	}
	if got, err := peer.CertFingerprint(cert); err != nil || got != fp {
		t.Fatalf("fingerprint %q, peer says %q (%v)", fp, got, err)
	}
	if _, _, other := peertest.SelfSigned(t, dir, "b"); other == fp {
		t.Fatal("two certificates with one fingerprint")
	}
}
