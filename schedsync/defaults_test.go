package schedsync

import (
	"os"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// A decoded table has every default set, and what the file gives is kept.
func TestDecodedDefaults(t *testing.T) {
	host, _ := os.Hostname()
	for _, tt := range []struct {
		name, src string
		want      Config
	}{
		{"minimal", "mode = \"primary\"\ndir = \"/srv/data\"", Config{Mode: ModePrimary, Dir: "/srv/data", NodeID: host,
			FailoverOffset: config.Duration(DefaultFailoverOffset), PeerTimeout: config.Duration(DefaultPeerTimeout),
			ScanInterval: config.Duration(DefaultScanInterval), Workers: DefaultWorkers, DeltaMinSize: DefaultDeltaMinSize}},
		{"explicit kept", `mode = "primary"
dir = "/srv/data"
node_id = "n1"
failover_offset = "5s"
peer_timeout = "2s"
scan_interval = "10s"
workers = 1
delta_min_size = 4096`, Config{Mode: ModePrimary, Dir: "/srv/data", NodeID: "n1",
			FailoverOffset: config.Duration(5 * time.Second), PeerTimeout: config.Duration(2 * time.Second),
			ScanInterval: config.Duration(10 * time.Second), Workers: 1, DeltaMinSize: 4096}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode("s.toml", tt.src, &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.Mode != tt.want.Mode || c.Dir != tt.want.Dir || c.NodeID != tt.want.NodeID || c.FailoverOffset != tt.want.FailoverOffset ||
				c.PeerTimeout != tt.want.PeerTimeout || c.ScanInterval != tt.want.ScanInterval || c.Workers != tt.want.Workers ||
				c.DeltaMinSize != tt.want.DeltaMinSize {
				t.Errorf("decoded\n%+v\nwant\n%+v", c, tt.want)
			}
		})
	}
}

// New leaves the caller's config as it was (it set node_id on it).
func TestNewKeepsCallerConfig(t *testing.T) {
	cfg := &Config{Mode: ModePrimary, Dir: t.TempDir()}
	n, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = n
	if cfg.NodeID != "" || cfg.Workers != 0 {
		t.Errorf("caller's config changed: %+v", cfg)
	}
}
