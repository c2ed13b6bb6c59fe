package gateway

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// The supervised command and the role hooks do not see the variables that
// hold redund's secrets (named by *_env keys: the admin token, the peer
// secret), only the rest of the environment and REDUND_ROLE & co.
func TestChildrenDoNotSeeSecretVariables(t *testing.T) {
	t.Setenv("REDUND_TEST_ADMIN_TOKEN", "S3cr3t-admin-token")
	t.Setenv("REDUND_TEST_PEER_SECRET", "S3cr3t-peer-secret-0123456789")
	var root struct {
		Admin struct {
			Token config.Secret `toml:"token"`
		} `toml:"admin"`
		Gateway struct {
			Link struct {
				Secret config.Secret `toml:"secret"`
			} `toml:"link"`
		} `toml:"gateway"`
	}
	src := "[admin]\ntoken_env = \"REDUND_TEST_ADMIN_TOKEN\"\n[gateway.link]\nsecret_env = \"REDUND_TEST_PEER_SECRET\"\n"
	if err := config.Decode("redund.toml", src, &root); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	app, hook := filepath.Join(dir, "app.env"), filepath.Join(dir, "hook.env")
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir(),
		Run:      []string{"sh", "-c", `env > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 60`, app},
		OnActive: []string{"sh", "-c", `env > "$0.tmp" && mv "$0.tmp" "$0"`, hook}}, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	for _, f := range []string{app, hook} {
		testutil.Eventually(t, 5*time.Second, filepath.Base(f)+" written", func() bool { return readFile(f) != "" })
		env := readFile(f)
		if strings.Contains(env, "REDUND_TEST_ADMIN_TOKEN") || strings.Contains(env, "REDUND_TEST_PEER_SECRET") ||
			strings.Contains(env, "S3cr3t") {
			t.Fatalf("%s sees a secret variable:\n%s", filepath.Base(f), env)
		}
		if !strings.Contains(env, "REDUND_ROLE=active") || !strings.Contains(env, "PATH=") {
			t.Fatalf("%s lacks REDUND_ROLE or PATH:\n%s", filepath.Base(f), env)
		}
	}
}
