package config

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

type envSecretRoot struct {
	Admin struct {
		Token Secret `toml:"token"`
	} `toml:"admin"`
}

// A variable that a K_env key named is not passed to a child process; the
// rest of the environment and the extra variables are.
func TestChildEnvDropsSecretVariables(t *testing.T) {
	t.Setenv("REDUND_TEST_CHILD_TOKEN", "S3cr3t-child-token")
	t.Setenv("REDUND_TEST_CHILD_PLAIN", "visible")
	var r envSecretRoot
	if err := Decode("t.toml", "[admin]\ntoken_env = \"REDUND_TEST_CHILD_TOKEN\"\n", &r); err != nil {
		t.Fatal(err)
	}
	if r.Admin.Token.Reveal() != "S3cr3t-child-token" {
		t.Fatalf("token not read from the environment: %q", r.Admin.Token.Reveal())
	}
	if !slices.Contains(SecretEnvNames(), "REDUND_TEST_CHILD_TOKEN") {
		t.Fatalf("SecretEnvNames() = %q", SecretEnvNames())
	}
	cmd := exec.Command("sh", "-c", "env")
	cmd.Env = ChildEnv("REDUND_ROLE=active")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	env := string(out)
	if strings.Contains(env, "S3cr3t-child-token") || strings.Contains(env, "REDUND_TEST_CHILD_TOKEN") {
		t.Fatalf("the child sees the secret variable:\n%s", env)
	}
	for _, want := range []string{"REDUND_TEST_CHILD_PLAIN=visible", "REDUND_ROLE=active", "PATH="} {
		if !strings.Contains(env, want) {
			t.Fatalf("the child lacks %s:\n%s", want, env)
		}
	}
}

func TestWithoutVars(t *testing.T) {
	got := withoutVars([]string{"A=1", "SECRET=x", "B=2=3", "SECRET_2=y", "NOEQ"}, []string{"SECRET"}, []string{"C=4"})
	if want := []string{"A=1", "B=2=3", "SECRET_2=y", "NOEQ", "C=4"}; !slices.Equal(got, want) {
		t.Fatalf("withoutVars = %q, want %q", got, want)
	}
}
