package voter

import (
	"testing"

	"github.com/redund/redund/internal/config"
)

// A decoded [voter.<name>] table has every default set, and what the file
// gives is kept (linger = 0 and sanity = false included); New and Reload
// default copies, leaving the caller's configs as they are.
func TestDecodedDefaults(t *testing.T) {
	type want struct {
		listen         string
		buflen, linger int
		duplex, sanity bool
		gpsDir         string
	}
	for _, tt := range []struct {
		name, src string
		want      want
	}{
		{"minimal", "[voter.a]\npassword = \"h\"", want{"0.0.0.0:1667", DefaultBuflen, DefaultLinger, true, true, DefaultGPSDir}},
		{"explicit values kept", `[voter.a]
password = "h"
listen = "127.0.0.1:1700"
buflen = 160
linger = 0
duplex = false
sanity = false
gps_dir = "/var/lib/gps"`, want{"127.0.0.1:1700", 160, 0, false, false, "/var/lib/gps"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var root importRoot
			if err := config.Decode("v.toml", tt.src, &root); err != nil {
				t.Fatal(err)
			}
			c := root.Voter["a"]
			if c.Linger == nil || c.Duplex == nil || c.Sanity == nil {
				t.Fatalf("unset pointers left: %+v", c)
			}
			got := want{c.Listen, c.Buflen, *c.Linger, *c.Duplex, *c.Sanity, c.GPSDir}
			if got != tt.want {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("New copies", func(t *testing.T) {
		c := &Config{Listen: "127.0.0.1:0", Password: "h", Clients: map[string]*ClientConfig{"alice": cl("a")}}
		if _, err := New(map[string]*Config{"a": c}, Options{}); err != nil {
			t.Fatal(err)
		}
		if c.Buflen != 0 || c.Linger != nil || c.Sanity != nil || c.GPSDir != "" {
			t.Errorf("New changed the caller's config: %+v", c)
		}
	})
}
