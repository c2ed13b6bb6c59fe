package gateway

import (
	"os"
	"strings"
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
		{"master minimal", `mode = "master"`, Config{NodeID: host, Mode: ModeMaster, PeerListen: ":8088",
			FailoverTimeout: config.Duration(DefaultFailoverTimeout), JoinWait: config.Duration(DefaultJoinWait),
			Recovery: RecoveryAutomatic, Standby: StandbyCold, History: HistoryPartial, DiskCache: DefaultDiskCache, DataDir: DefaultDataDir}},
		{"backup has no peer_listen", "mode = \"backup\"\npeer = \"10.0.0.1:8088\"", Config{NodeID: host, Mode: ModeBackup, Peer: "10.0.0.1:8088",
			FailoverTimeout: config.Duration(DefaultFailoverTimeout), JoinWait: config.Duration(DefaultJoinWait),
			Recovery: RecoveryAutomatic, Standby: StandbyCold, History: HistoryPartial, DiskCache: DefaultDiskCache, DataDir: DefaultDataDir}},
		{"explicit values kept", `node_id = "gw1"
mode = "master"
peer_listen = ":9000"
failover_timeout = "250ms"
join_wait = "5s"
recovery = "manual"
standby = "warm"
history = "full"
disk_cache = "1MB"
data_dir = "/srv/gw"`, Config{NodeID: "gw1", Mode: ModeMaster, PeerListen: ":9000",
			FailoverTimeout: config.Duration(250 * time.Millisecond), JoinWait: config.Duration(5 * time.Second),
			Recovery: RecoveryManual, Standby: StandbyWarm, History: HistoryFull, DiskCache: 1 << 20, DataDir: "/srv/gw"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode("gw.toml", tt.src, &c); err != nil {
				t.Fatal(err)
			}
			if c.NodeID != tt.want.NodeID || c.Mode != tt.want.Mode || c.PeerListen != tt.want.PeerListen ||
				c.FailoverTimeout != tt.want.FailoverTimeout || c.JoinWait != tt.want.JoinWait || c.Recovery != tt.want.Recovery ||
				c.Standby != tt.want.Standby || c.History != tt.want.History || c.DiskCache != tt.want.DiskCache || c.DataDir != tt.want.DataDir {
				t.Errorf("decoded\n%+v\nwant\n%+v", c, tt.want)
			}
			if c.Link.PingInterval == 0 || c.Link.PingTimeout == 0 || c.Link.MaxMissed == 0 {
				t.Errorf("the link table was not defaulted: %+v", c.Link)
			}
			again := c
			again.SetDefaults()
			if again.FailoverTimeout != c.FailoverTimeout || again.PeerListen != c.PeerListen || again.DataDir != c.DataDir {
				t.Error("SetDefaults is not idempotent")
			}
		})
	}
}

// TestValidateAppURL: an app_url the client listener cannot proxy to is a
// config error (file, key, exit 2 at start, `config check`). It passed
// Validate and failed only in Run, after the daemon had told systemd it
// was ready: a restart loop that `config check` called ok.
func TestValidateAppURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"https://app.example:8443/base", true},
		{"127.0.0.1:8080", false},
		{"localhost:8080", false},
		{"ftp://127.0.0.1/", false},
		{"http://", false},
		{"http://[::1", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			var c Config
			if err := config.Decode("gw.toml", "mode = \"master\"\nclient_listen = \"127.0.0.1:0\"\napp_url = \""+tc.url+"\"\n[link]\nplain = true", &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "app_url") {
				t.Fatalf("the error does not name the key: %v", err)
			}
		})
	}
}
