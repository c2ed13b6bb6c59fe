package witness

import (
	"errors"
	"testing"
)

// TestOpen: the one way a scheme with `witness = true` sets up its
// witness and lock (gateway and schedsync had each their copy).
func TestOpen(t *testing.T) {
	cfg := &Config{Endpoints: []string{"http://127.0.0.1:2379"}, Name: "n1", Prefix: "/p/"}
	for _, tt := range []struct {
		name    string
		cfg     *Config
		lock    string
		wantErr error  // nil: no error
		wantKey string // with no error
	}{
		{"no [witness] table", nil, "gateway", ErrNoTable, ""},
		{"a bad table", &Config{}, "gateway", errors.New("endpoints"), ""},
		{"a bad lock name", cfg, "a/b", errors.New("lock name"), ""},
		{"the lock under the prefix", cfg, "gateway", nil, "/p/lock/gateway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, l, err := Open(tt.cfg, tt.lock, nil)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr == nil:
				if w == nil || l == nil || l.Key() != tt.wantKey || w.Node() != "n1" {
					t.Fatalf("witness %v, lock %v (key %q), want key %q", w, l, l.Key(), tt.wantKey)
				}
			case errors.Is(tt.wantErr, ErrNoTable) && !errors.Is(err, ErrNoTable):
				t.Fatalf("error %v, want ErrNoTable", err)
			case err == nil:
				t.Fatalf("no error, want one about %q", tt.wantErr)
			}
		})
	}
}
