package peer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

func TestConfigValidate(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	tests := []struct {
		name, src, wantErr string
	}{
		{"secret", `secret = "0123456789abcdef"`, ""},
		{"plain", `plain = true`, ""},
		{"tls", `tls_cert = "a.crt"` + "\n" + `tls_key = "a.key"` + "\n" + `tls_peer_fingerprint = "` + fp + `"`, ""},
		{"nothing", `ping_interval = "1s"`, "secret: the peer link needs a secret"},
		{"short secret", `secret = "short"`, "secret: must be at least 16"},
		{"plain and secret", "plain = true\nsecret = \"0123456789abcdef\"", "plain: plain = true cannot"},
		{"tls no pin", "tls_cert = \"a\"\ntls_key = \"b\"", "tls_peer_fingerprint: required"},
		{"tls bad pin", "tls_cert = \"a\"\ntls_key = \"b\"\ntls_peer_fingerprint = \"zz\"", "64 hex digits"},
		{"tls no key", "tls_cert = \"a\"\ntls_peer_fingerprint = \"" + fp + "\"", "tls_key: required"},
		{"negative", "plain = true\nmax_missed = -1", "max_missed: must be >= 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode("t.toml", tt.src, &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestUnsetSecretEnvIsOneError: a secret_env naming an unset variable is
// reported once, not also as "needs a secret".
func TestUnsetSecretEnvIsOneError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "link.toml")
	if err := os.WriteFile(path, []byte("secret_env = \"REDUND_NO_SUCH_VAR\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c Config
	err := config.Check(path, &c)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(err.Error(), "secret_env: environment variable REDUND_NO_SUCH_VAR is not set") {
		t.Fatalf("want the one unset-variable error, got %v", err)
	}
}
