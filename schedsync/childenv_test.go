package schedsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

// A hook does not see the variables that hold redund's secrets (named by
// *_env keys, e.g. the link secret), only the rest of the environment and
// the REDUND_SCHEDSYNC_* variables.
func TestHookDoesNotSeeSecretVariables(t *testing.T) {
	t.Setenv("REDUND_TEST_SYNC_SECRET", "S3cr3t-sync-secret-0123")
	var root struct {
		Schedsync struct {
			Secret config.Secret `toml:"secret"`
		} `toml:"schedsync"`
	}
	if err := config.Decode("redund.toml", "[schedsync]\nsecret_env = \"REDUND_TEST_SYNC_SECRET\"\n", &root); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, &Config{Mode: ModePrimary, Dir: t.TempDir(), Secret: config.Secret(testSecret), NodeID: "a"}, nil)
	out := filepath.Join(t.TempDir(), "hook.env")
	n.runHook([]string{"sh", "-c", `env > "$0"`, out}, "promote", RolePrimary, 2, "test")
	n.hooks.Wait()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	if strings.Contains(env, "REDUND_TEST_SYNC_SECRET") || strings.Contains(env, "S3cr3t") {
		t.Fatalf("the hook sees the secret variable:\n%s", env)
	}
	if !strings.Contains(env, "REDUND_SCHEDSYNC_EVENT=promote") || !strings.Contains(env, "PATH=") {
		t.Fatalf("the hook lacks its variables:\n%s", env)
	}
}

// TestHookDoesNotInheritAFence: without the witness a hook gets no
// REDUND_FENCE, even when the daemon inherited one (started by a gateway
// that supervises it, or by another redund's hook): it saw that one as if
// it were this node's fencing token.
func TestHookDoesNotInheritAFence(t *testing.T) {
	t.Setenv("REDUND_FENCE", "99")
	t.Setenv("REDUND_SCHEDSYNC_EPOCH", "42")
	n := startNode(t, &Config{Mode: ModePrimary, Dir: t.TempDir(), Secret: config.Secret(testSecret), NodeID: "a"}, nil)
	out := filepath.Join(t.TempDir(), "hook.env")
	n.runHook([]string{"sh", "-c", `env > "$0"`, out}, "promote", RolePrimary, 2, "test")
	n.hooks.Wait()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	if strings.Contains(env, "REDUND_FENCE") || strings.Contains(env, "REDUND_SCHEDSYNC_EPOCH=42") ||
		!strings.Contains(env, "REDUND_SCHEDSYNC_EPOCH=2\n") {
		t.Fatalf("the hook's environment:\n%s", env)
	}
}
