package schedsync

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redund/redund/internal/config"
)

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		return Config{Mode: ModeSecondaryFailover, Dir: "/srv/data", Listen: "0.0.0.0:8470",
			Peer: "http://10.0.0.1:8470", Secret: testSecret}
	}
	for _, tc := range []struct {
		name    string
		mutate  func(c *Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"primary alone", func(c *Config) { *c = Config{Mode: ModePrimary, Dir: "/d"} }, ""},
		{"no mode", func(c *Config) { c.Mode = "" }, "mode: is required"},
		{"bad mode", func(c *Config) { c.Mode = "backup" }, `mode: "backup" is not`},
		{"relative dir", func(c *Config) { c.Dir = "data" }, "dir: \"data\" must be an absolute path"},
		{"no peer", func(c *Config) { c.Peer = "" }, "peer: is required for a secondary"},
		{"peer not a URL", func(c *Config) { c.Peer = "10.0.0.1:8470" }, "peer:"},
		{"peer https without tls", func(c *Config) { c.Peer = "https://h:1" }, "use https:// exactly when tls_cert is set"},
		{"peer ftp", func(c *Config) { c.Peer = "ftp://h:1" }, "want http://host:port"},
		{"tls half", func(c *Config) { c.TLSCert = "/c.pem" }, "tls_cert, tls_key and tls_peer_fingerprint go together"},
		{"no secret no tls", func(c *Config) { c.Secret = "" }, "secret: is required"},
		{"primary listening without peer or secret", func(c *Config) {
			*c = Config{Mode: ModePrimary, Dir: "/d", Listen: "0.0.0.0:8470"}
		}, "secret: is required"},
		{"short secret", func(c *Config) { c.Secret = "short" }, "secret: must have at least 16 characters"},
		{"no listen", func(c *Config) { c.Listen = "" }, "listen: is required"},
		{"bad listen", func(c *Config) { c.Listen = "nope" }, "listen:"},
		{"tiny offset", func(c *Config) { c.FailoverOffset = config.Duration(time.Millisecond) }, "failover_offset: must be at least 1s"},
		{"tiny scan", func(c *Config) { c.ScanInterval = config.Duration(time.Millisecond) }, "scan_interval: must be at least 1s"},
		{"negative peer_timeout", func(c *Config) { c.PeerTimeout = -1 }, "peer_timeout: must not be negative"},
		{"negative scan", func(c *Config) { c.ScanInterval = config.Duration(-time.Second) }, "scan_interval: must not be negative"},
		{"negative delta", func(c *Config) { c.DeltaMinSize = -1 }, "delta_min_size: must not be negative"},
		{"negative conflicts_keep", func(c *Config) { c.ConflictsKeep = -1 }, "conflicts_keep: must not be negative"},
		{"negative conflicts_max_bytes", func(c *Config) { c.ConflictsMaxBytes = -1 }, "conflicts_max_bytes: must not be negative"},
		{"workers", func(c *Config) { c.Workers = 100 }, "workers: must be 0-64"},
		{"bad exclude", func(c *Config) { c.Exclude = []string{"ok", "[x"} }, "exclude[1]:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	writeFile(t, p.dir, "a", "x", 0o644)
	waitSame(t, p, s, "copy")
	s.stop()
	p.stop()
}
