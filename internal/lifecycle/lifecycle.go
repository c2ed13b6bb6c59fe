// Package lifecycle is the one lifecycle every redund daemon (voter,
// ddns, gateway, schedsync) has, so that the CLI drives them all the same
// way:
//
//  1. New(cfg, opts) checks the config and builds the daemon. It binds no
//     socket and never changes the caller's config; an error means the
//     config cannot run (exit status 2).
//  2. Register adds the status source, metrics and admin endpoints to the
//     admin server; an error is returned, never a panic.
//  3. Listen binds every socket the daemon serves on; Bound then names
//     them for the start line.
//  4. Run runs until ctx ends. Readiness (systemd's READY=1) follows the
//     start of Run: Started (Starter) or the first answer of every loop
//     (LoopPinger); a daemon with neither is ready at once.
//  5. Reload, while Run runs, applies a re-read config: it returns the
//     changed key paths it applied live; the caller logs the others as
//     needing a restart. It applies all or nothing: after an error the
//     daemon runs on its old config.
package lifecycle

import (
	"context"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/status"
)

// Daemon is the lifecycle of a daemon whose config is a C (after New).
type Daemon[C any] interface {
	// Register adds the daemon's status source, metrics and admin
	// endpoints to admin; token guards the endpoints that change things.
	Register(admin Admin, token config.Secret) error
	// Listen binds every socket of the daemon (at most once; Run calls it
	// when the caller has not).
	Listen() error
	// Bound names the sockets Listen bound: key path → address.
	Bound() []Bound
	// Run runs the daemon until ctx ends; it returns nil then.
	Run(ctx context.Context) error
	// Reload applies cfg (validated) live while Run runs. changed are
	// the key paths of the config file that differ from the running one
	// ("ddns.cat.servers[1].priority"); it returns those it applied.
	Reload(ctx context.Context, cfg C, changed []string) (applied []string, err error)
}

// Bound is a socket a daemon listens on, named by its config key.
type Bound struct {
	Key  string // "voter.east.listen", "gateway.client_listen"
	Addr string // the address bound (with the port the kernel chose)
}

// Admin is what a daemon registers with: the admin server
// (internal/status's Server).
type Admin interface {
	AddSource(src status.Source)
	Registry() *prometheus.Registry
	Handle(pattern string, h http.Handler)
	// AddPage lists a scheme's HTML page on the listener's index (which
	// the admin server serves itself, at /).
	AddPage(scheme, path string, anchor func(status.Document) string)
	Report() status.Report
}

// Under reports whether key path key is table or lies inside it
// ("ddns.cat.servers[1].priority" is under "ddns.cat" and
// "ddns.cat.servers[1]").
func Under(key, table string) bool {
	return key == table || strings.HasPrefix(key, table+".") || strings.HasPrefix(key, table+"[")
}

// KeysUnder returns the keys of changed that lie under one of tables.
func KeysUnder(changed []string, tables ...string) []string {
	var out []string
	for _, k := range changed {
		for _, t := range tables {
			if Under(k, t) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}
