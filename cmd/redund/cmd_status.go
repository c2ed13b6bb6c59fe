package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/term"
	"github.com/urfave/cli/v2"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/status/termview"
)

type statusOptions struct {
	Endpoints cli.StringSlice
	Watch     bool
	JSON      bool
	Timeout   time.Duration
}

func newStatusCommand(g *globalOptions) *cli.Command {
	o := &statusOptions{}
	return &cli.Command{
		Name:  "status",
		Usage: "one view of every running redund instance",
		Description: "Asks every admin address named in the config's [admin] table, plus any\n" +
			"--endpoint, for its status (GET /v1/status) at once, and draws one table:\n" +
			"instance, scheme, role, state, peer, health and last change. An endpoint\n" +
			"that does not answer is a row saying why. Output is plain text when\n" +
			"stdout is not a terminal or NO_COLOR is set. See docs/status.md.\n\n" +
			"EXAMPLES\n" +
			"   redund status\n" +
			"   redund status --endpoint 10.0.0.2:9180 --watch\n" +
			"   redund status --json | jq '.[] | select(.error)'\n\n" +
			exitHelp("every endpoint answered (or --watch was stopped)",
				"an endpoint is unreachable, did not answer in time or not with a status document,\n"+
					"      or a daemon or instance of the config is not there"),
		Flags: []cli.Flag{
			// no short alias: urfave/cli v2 refuses a slice flag given in two forms
			&cli.StringSliceFlag{Name: "endpoint", Destination: &o.Endpoints,
				Usage: "also ask this admin address (host:port or URL); repeatable"},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Destination: &o.Watch,
				Usage: "redraw every second until interrupted"},
			&cli.BoolFlag{Name: "json", Destination: &o.JSON,
				Usage: `print [{"endpoint", "report" or "error"}] instead of the table`},
			&cli.DurationFlag{Name: "timeout", Value: adminapi.DefaultTimeout, Destination: &o.Timeout,
				Usage: "how long to wait for each endpoint"},
		},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runStatus(c.Context, g, o, c.App.Writer) }),
	}
}

func runStatus(ctx context.Context, g *globalOptions, o *statusOptions, w io.Writer) error {
	if o.Timeout <= 0 {
		return usageErr("status: --timeout must be > 0")
	}
	eps, daemons, err := statusPlan(g.ConfigPath, o.Endpoints.Value())
	if err != nil {
		return err
	}
	v := newStatusView(w, o)
	v.daemons = daemons
	if v.client.Trust, err = statusTrust(g.ConfigPath, len(o.Endpoints.Value()) > 0); err != nil {
		return err
	}
	if o.Watch {
		return v.watch(ctx, eps)
	}
	return v.once(ctx, eps)
}

// statusEndpoints lists the config's admin addresses and then the extra
// ones, without repeats. A missing config file is fine when extra is not
// empty.
func statusEndpoints(configPath string, extra []string) ([]string, error) {
	eps, _, err := statusPlan(configPath, extra)
	return eps, err
}

// statusTrust is whose admin sockets status believes: root, the caller
// and the config's [admin] socket_user (see adminapi.SocketTrust).
func statusTrust(configPath string, allowMissing bool) (*adminapi.SocketTrust, error) {
	cfg, err := loadConfigOrNone(configPath, allowMissing)
	if err != nil || cfg == nil {
		return adminapi.DefaultTrust(), err
	}
	t, err := cfg.Admin.SocketTrust()
	if err != nil {
		return nil, usageErr("status: %v", err)
	}
	return t, nil
}

// statusPlan is statusEndpoints and, by config address, the daemons the
// config runs there (see fileConfig.statusDaemons).
func statusPlan(configPath string, extra []string) ([]string, map[string][]expectedDaemon, error) {
	var eps []string
	var daemons map[string][]expectedDaemon
	cfg, err := loadConfigOrNone(configPath, len(extra) > 0)
	if err != nil {
		return nil, nil, err
	}
	if cfg != nil {
		eps = cfg.statusAddresses()
		daemons = cfg.statusDaemons()
	}
	seen := map[string]bool{}
	var out []string
	for _, ep := range append(eps, extra...) {
		u, err := adminapi.StatusURL(ep)
		if err != nil {
			return nil, nil, usageErr("status: %v", err)
		}
		if path, ok := adminapi.SocketOf(ep); ok {
			u = adminapi.SocketScheme + path // one URL for every socket
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, ep)
		}
	}
	return out, daemons, nil
}

// statusView draws frames of `redund status` on one writer.
type statusView struct {
	w        io.Writer
	json     bool
	timeout  time.Duration
	plain    bool
	term     *os.File           // stdout when it is a terminal, else nil
	renderer *lipgloss.Renderer // colours for term
	now      func() time.Time
	interval time.Duration
	watching bool // --watch: one compact JSON document per frame
	// daemons are the daemons the config runs, by address: one that an
	// address does not answer as gets a row of its own (missingDaemons)
	daemons map[string][]expectedDaemon
	failing map[string]time.Time // --watch: since when each failing endpoint fails
	client  adminapi.Client      // with the config's socket trust
}

func newStatusView(w io.Writer, o *statusOptions) *statusView {
	v := &statusView{w: w, json: o.JSON, timeout: o.Timeout, now: time.Now, interval: time.Second,
		watching: o.Watch}
	if f, ok := w.(*os.File); ok && term.IsTerminal(f.Fd()) {
		v.term = f
	}
	v.plain = v.term == nil || os.Getenv("NO_COLOR") != ""
	if !v.plain {
		v.renderer = lipgloss.NewRenderer(v.term)
		// set, not asked: asking the terminal for its background can stall
		// for seconds on terminals that do not answer
		v.renderer.SetHasDarkBackground(darkBackground(os.Getenv("COLORFGBG")))
	}
	return v
}

// darkBackground reads COLORFGBG ("15;0": light text on black), which
// many terminals set; without it a dark background is assumed.
func darkBackground(colorfgbg string) bool {
	f := strings.Split(colorfgbg, ";")
	bg, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		return true
	}
	return bg < 7 || bg == 8
}

// once draws one frame; an unreachable endpoint makes it fail (exit 1).
func (v *statusView) once(ctx context.Context, eps []string) error {
	res := missingDaemons(v.client.FetchAll(ctx, eps, v.timeout), v.daemons)
	if err := v.draw(res); err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return failed(nil)
		}
	}
	return nil
}

// watch redraws every interval until ctx ends, which is a normal exit.
func (v *statusView) watch(ctx context.Context, eps []string) error {
	t := time.NewTicker(v.interval)
	defer t.Stop()
	last := map[string]*status.Report{} // an endpoint's last good answer
	failing := map[string]time.Time{}   // since when an endpoint fails, each poll
	for {
		polled := v.now()
		res := v.client.FetchAll(ctx, eps, v.timeout)
		if ctx.Err() != nil {
			return nil
		}
		for i := range res {
			if res[i].Err == nil {
				r := res[i].Report
				last[res[i].Endpoint] = &r
				delete(failing, res[i].Endpoint)
			} else {
				res[i].Last = last[res[i].Endpoint] // its rows stay, marked unreachable
				if _, ok := failing[res[i].Endpoint]; !ok {
					failing[res[i].Endpoint] = polled
				}
			}
		}
		res = missingDaemons(res, v.daemons)
		if v.term != nil && !v.json {
			fmt.Fprint(v.w, "\x1b[H\x1b[2J") // home, clear screen
		}
		if !v.json {
			fmt.Fprintf(v.w, "redund status  %s  (every %s, Ctrl-C to stop)\n\n",
				v.now().Format("15:04:05"), v.interval)
		}
		v.failing = failing
		if err := v.draw(res); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// missingDaemons adds, after each endpoint that answered, a result for
// every daemon the config runs at that address that is not the one that
// answered (two daemons given one admin address cannot both listen on it),
// and one for every instance of the config that its daemon does not
// report: neither must vanish from the table, nor let a one-shot status
// exit 0. Such a result's Last holds the instances it is about, so that
// the table names them in rows of their own.
func missingDaemons(res []adminapi.Result, daemons map[string][]expectedDaemon) []adminapi.Result {
	if len(daemons) == 0 {
		return res
	}
	out := make([]adminapi.Result, 0, len(res))
	for _, r := range res {
		out = append(out, r)
		if r.Err != nil {
			continue
		}
		for _, d := range daemons[r.Endpoint] {
			var missing []status.Document
			for _, name := range d.Instances {
				if d.Name != r.Report.Daemon || !slices.ContainsFunc(r.Report.Instances, func(doc status.Document) bool {
					return doc.Scheme == d.Scheme && doc.Instance == name
				}) {
					missing = append(missing, status.Document{Instance: name, Scheme: d.Scheme})
				}
			}
			if d.Name != r.Report.Daemon {
				m := adminapi.Result{Endpoint: r.Endpoint, Err: &wrongDaemonError{want: d.Name, got: r.Report.Daemon}, At: r.At}
				if len(missing) > 0 {
					m.Last = &status.Report{Instances: missing}
				}
				out = append(out, m)
				continue
			}
			for _, doc := range missing { // one each: --json has no rows, only the error
				out = append(out, adminapi.Result{Endpoint: r.Endpoint, At: r.At,
					Err:  fmt.Errorf("%s: not run by %s here", doc.Instance, d.Name),
					Last: &status.Report{Instances: []status.Document{doc}}})
			}
		}
	}
	return out
}

// wrongDaemonError is a config's daemon whose admin address is answered by
// another daemon.
type wrongDaemonError struct{ want, got string }

func (e *wrongDaemonError) Error() string {
	got := e.got // the table makes it printable
	if got == "" {
		got = "an unnamed daemon"
	}
	return fmt.Sprintf("no %s here (%s answers)", e.want, got)
}

// draw prints the results as a table or as JSON.
func (v *statusView) draw(res []adminapi.Result) error {
	if v.json {
		enc := json.NewEncoder(v.w)
		if !v.watching {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(res)
	}
	opts := termview.Options{Plain: v.plain, Now: v.now(), Renderer: v.renderer, FailingSince: v.failing}
	if v.term != nil {
		if w, _, err := term.GetSize(v.term.Fd()); err == nil {
			opts.Width = w
		}
	}
	_, err := io.WriteString(v.w, termview.Render(res, opts))
	return err
}
