package witness

import (
	"slices"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// A decoded [witness] table has every default set (the name stays unset:
// New takes the host name), and what the file gives is kept.
func TestDecodedDefaults(t *testing.T) {
	eps := []string{"http://127.0.0.1:2379"}
	for _, tt := range []struct {
		name, src    string
		prefix, node string
		ttl          time.Duration
	}{
		{"minimal", `endpoints = ["http://127.0.0.1:2379"]`, DefaultPrefix, "", DefaultTTL},
		{"explicit values kept", "endpoints = [\"http://127.0.0.1:2379\"]\nname = \"n1\"\nprefix = \"/x/\"\nttl = \"5s\"", "/x/", "n1", 5 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode("w.toml", tt.src, &c); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Endpoints, eps) || c.Prefix != tt.prefix || c.Name != tt.node || c.TTL.D() != tt.ttl {
				t.Errorf("decoded %+v, want prefix %q, name %q, ttl %v", c, tt.prefix, tt.node, tt.ttl)
			}
		})
	}
	t.Run("New defaults its copy", func(t *testing.T) {
		w, err := New(Config{Endpoints: eps, Name: "n1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if w.TTL() != DefaultTTL || w.prefix != DefaultPrefix {
			t.Errorf("ttl %v, prefix %q", w.TTL(), w.prefix)
		}
	})
}
