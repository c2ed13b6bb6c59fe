package config

import (
	"os"
	"slices"
	"strings"
	"sync"
)

// secretEnv records the environment variables that secrets were read from
// (K_env keys). The environment belongs to the process, so does this list.
var secretEnv struct {
	sync.Mutex
	names map[string]bool
}

// noteSecretEnv records that the variable name holds a secret.
func noteSecretEnv(name string) {
	secretEnv.Lock()
	defer secretEnv.Unlock()
	if secretEnv.names == nil {
		secretEnv.names = map[string]bool{}
	}
	secretEnv.names[name] = true
}

// SecretEnvNames returns, sorted, the environment variables that K_env keys
// of every config decoded so far have named.
func SecretEnvNames() []string {
	secretEnv.Lock()
	defer secretEnv.Unlock()
	var out []string
	for n := range secretEnv.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// ChildEnv is the environment for a command redund starts (a supervised
// application, a hook, a health check): the process's own without the
// variables that hold secrets (SecretEnvNames), then extra ("K=V"). Every
// place that starts a child process sets cmd.Env to it.
func ChildEnv(extra ...string) []string {
	return withoutVars(os.Environ(), SecretEnvNames(), extra)
}

// withoutVars is env without the variables names, then extra.
func withoutVars(env, names, extra []string) []string {
	out := make([]string, 0, len(env)+len(extra))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}
