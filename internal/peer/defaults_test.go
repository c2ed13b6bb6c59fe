package peer

import (
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// A decoded link table has every default set, and what the file gives is
// kept; New defaults its own copy, leaving the caller's config as it is.
func TestDecodedDefaults(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      Config
	}{
		{"minimal", `plain = true`, Config{Plain: true, PingInterval: config.Duration(DefaultPingInterval),
			PingTimeout: config.Duration(DefaultPingTimeout), MaxMissed: DefaultMaxMissed}},
		{"explicit values kept", "plain = true\nping_interval = \"1s\"\nping_timeout = \"2s\"\nmax_missed = 1",
			Config{Plain: true, PingInterval: config.Duration(time.Second), PingTimeout: config.Duration(2 * time.Second), MaxMissed: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode("link.toml", tt.src, &c); err != nil {
				t.Fatal(err)
			}
			if c != tt.want {
				t.Errorf("decoded\n%+v\nwant\n%+v", c, tt.want)
			}
		})
	}
	t.Run("New copies", func(t *testing.T) {
		c := &Config{Plain: true}
		n, err := New(c, Options{Dial: "127.0.0.1:1", Hello: func() Hello { return Hello{} }})
		if err != nil {
			t.Fatal(err)
		}
		if *c != (Config{Plain: true}) {
			t.Errorf("New changed the caller's config: %+v", *c)
		}
		if want := DefaultPingTimeout + DefaultPingInterval*DefaultMaxMissed; n.downAfter != want {
			t.Errorf("down after %v, want %v", n.downAfter, want)
		}
	})
}
