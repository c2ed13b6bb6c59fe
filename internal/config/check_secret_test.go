package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type checkSecretRoot struct {
	Key struct {
		Secret Secret `toml:"secret"`
	} `toml:"key"`
}

func (r *checkSecretRoot) Validate() error {
	var errs Errors
	if r.Key.Secret == "" {
		errs.Add("key.secret", "secret is required (give secret, secret_file or secret_env)")
	}
	return errs.Err()
}

// A secret whose _env variable is unset is reported once, by the loader,
// not a second time as "required" by Validate.
func TestCheckReportsUnresolvedSecretOnce(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"env unset", "[key]\nsecret_env = \"REDUND_NO_SUCH_VAR\"\n", "key.secret_env: environment variable REDUND_NO_SUCH_VAR is not set"},
		{"file missing", "[key]\nsecret_file = \"no-such-file\"\n", "key.secret_file: cannot read secret file"},
		{"not given", "[key]\n", "key.secret: secret is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "redund.toml")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Check(path, &checkSecretRoot{})
			if err == nil {
				t.Fatal("Check: no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not contain %q", msg, tc.want)
			}
			if n := strings.Count(msg, "key.secret"); n != 1 {
				t.Fatalf("want one problem about key.secret, got %d: %q", n, msg)
			}
		})
	}
}

type badSecretRoot struct {
	Key struct {
		Name   string `toml:"name"`
		Secret Secret `toml:"secret"`
	} `toml:"key"`
}

func (r *badSecretRoot) Validate() error {
	var errs Errors
	if r.Key.Secret.Reveal() != "good" {
		errs.Add("key.secret", "secret is not good")
	}
	return errs.Err()
}

// TestSecretErrorNamesItsLine: a problem with a secret given as secret_file
// or secret_env names the line of that key, not of the table header.
func TestSecretErrorNamesItsLine(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("bad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REDUND_TEST_BAD_SECRET", "bad")
	for _, tc := range []struct{ name, line string }{
		{"file", "secret_file = \"" + keyFile + "\"\n"},
		{"env", "secret_env = \"REDUND_TEST_BAD_SECRET\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".toml")
			if err := os.WriteFile(path, []byte("[key]\nname = \"k\"\n\n"+tc.line), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Check(path, &badSecretRoot{})
			if err == nil || !strings.Contains(err.Error(), tc.name+".toml:4: key.secret: secret is not good") {
				t.Fatalf("error %v; want it on line 4, where the secret is given", err)
			}
		})
	}
}
