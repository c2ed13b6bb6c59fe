package schedsync

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/peer"
)

// usesTLS reports whether the link is wrapped in TLS with pinned
// certificates (tls_cert, tls_key, tls_peer_fingerprint).
func (c *Config) usesTLS() bool {
	return c.TLSCert != "" || c.TLSKey != "" || c.TLSPeerFingerprint != ""
}

// tlsConfig is used on both ends: each presents its own certificate and
// accepts only the peer's, pinned by SHA-256 (self-signed is fine; no CA).
func (c *Config) tlsConfig() (*tls.Config, error) {
	tc, err := peer.PinnedTLS(c.TLSCert, c.TLSKey, c.TLSPeerFingerprint)
	if err != nil {
		return nil, fmt.Errorf("schedsync: %w", err)
	}
	return tc, nil
}

func (c *Config) validateTLS(errs *config.Errors) {
	if !c.usesTLS() {
		return
	}
	if c.TLSCert == "" || c.TLSKey == "" || c.TLSPeerFingerprint == "" {
		errs.Add("tls_cert", "tls_cert, tls_key and tls_peer_fingerprint go together")
	}
	if c.TLSPeerFingerprint != "" {
		if _, err := peer.ParseFingerprint(c.TLSPeerFingerprint); err != nil {
			errs.Add("tls_peer_fingerprint", "%v", err)
		}
	}
}

// wrapListener adds TLS to the sync listener when configured.
func (n *Node) wrapListener(ln net.Listener) (net.Listener, error) {
	if !n.cfg.usesTLS() {
		return ln, nil
	}
	tc, err := n.cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, tc), nil
}
