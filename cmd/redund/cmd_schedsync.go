package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/urfave/cli/v2"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/schedsync"
)

type schedsyncOptions struct {
	Admin string
	JSON  bool
	Watch bool
}

func newSchedsyncCommand(g *globalOptions) *cli.Command {
	o := &schedsyncOptions{}
	adminFlag := &cli.StringFlag{Name: "admin", Usage: "admin address of the daemon (default: [admin] schedsync, then listen); actions and status then need no config file, and also take unix:/path of its socket; off for run: no TCP listener, its [admin] socket_dir socket only",
		Destination: &o.Admin}
	return &cli.Command{
		Name:  "schedsync",
		Usage: "primary/secondary sync of a data directory (LTN Schedule's redundancy)",
		Description: "The [schedsync] table makes this node a primary, a secondary-copy (follows,\n" +
			"never takes over) or a secondary-failover (follows, and becomes primary after\n" +
			"failover_offset without its primary). The secondary keeps an exact, durable copy\n" +
			"of the primary's directory. Statuses: No redundancy, Connecting, Syncing, Synced,\n" +
			"Not synced, Unavailable, Incompatible. See docs/schedsync.md.\n\n" + groupExitHelp,
		Subcommands: []*cli.Command{
			schedsyncRunCommand(g, o, adminFlag),
			schedsyncActionCommand(g, o, adminFlag, "resync", "Resync now: full comparison and repair",
				"On a secondary: every file is re-hashed and compared with the primary's manifest;\n"+
					"what differs is fetched again, local edits are moved to .redund/conflicts.\n"+
					"On a primary: a full rescan, and the secondary is asked to resync. With two\n"+
					"primaries (Incompatible), the node with the older epoch is demoted."),
			schedsyncActionCommand(g, o, adminFlag, "promote", "Make primary: this node takes over (epoch + 1)",
				"Runs on_promote. If the old primary is still running the pair reports\n"+
					"Incompatible (two primaries) until one is demoted. With witness = true it\n"+
					"asks for the witness lock instead and promotes only when it gets it; it is\n"+
					"refused when the lock does not come within two TTLs (the other node holds it)."),
			schedsyncActionCommand(g, o, adminFlag, "demote", "make this primary a secondary of its peer",
				"Runs on_demote. Files that differ from the new primary's are moved to\n"+
					".redund/conflicts before being replaced: nothing is lost."),
			schedsyncStatusCommand(g, o, adminFlag),
		},
	}
}

func schedsyncRunCommand(g *globalOptions, o *schedsyncOptions, admin cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run this node: watch or follow the directory, serve status and actions",
		Description: "Serves the peer protocol on [schedsync] listen, and status, /metrics and\n" +
			"POST /v1/schedsync/{resync,promote,demote} on the admin address.\n" +
			"Stops on SIGINT/SIGTERM.\n\n" +
			"EXAMPLE\n   redund --config /etc/redund/redund.toml schedsync run\n\n" + daemonExitHelp,
		Flags:  []cli.Flag{admin},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runSchedsync(c.Context, g, o) }),
	}
}

func runSchedsync(ctx context.Context, g *globalOptions, o *schedsyncOptions) error {
	cfg, err := loadConfig(g.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.Schedsync == nil {
		return usageErr("schedsync run: the config has no [schedsync] table")
	}
	d, err := newDaemon(g, "schedsync run")
	if err != nil {
		return err
	}
	n, err := schedsync.New(cfg.Schedsync, schedsync.Options{Version: version, Log: d.Log, Witness: cfg.Witness})
	if err != nil {
		return usageErr("%v", err)
	}
	return serve(ctx, d, n, cfg, cfg.adminAddr(o.Admin, "schedsync"), func(f *fileConfig) *schedsync.Config { return f.Schedsync })
}

func schedsyncActionCommand(g *globalOptions, o *schedsyncOptions, admin cli.Flag, name, usage, desc string) *cli.Command {
	return &cli.Command{
		Name:  name,
		Usage: usage,
		Description: desc + "\n\nAsks the running daemon through its admin API.\n\n" +
			"EXAMPLE\n   redund schedsync " + name + "\n\n" + clientExitHelp,
		Flags:  []cli.Flag{admin, &cli.BoolFlag{Name: "json", Usage: "print the answer as JSON", Destination: &o.JSON}},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runSchedsyncAction(c, g, o, name) }),
	}
}

func runSchedsyncAction(c *cli.Context, g *globalOptions, o *schedsyncOptions, name string) error {
	t, err := adminTarget(g, o.Admin, "schedsync")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, 40*time.Second)
	defer cancel()
	var res schedsync.ActionResult
	t.Daemon = "schedsync run"
	err = t.Call(ctx, http.MethodPost, schedsync.ActionPath(name), nil, &res)
	var ce *adminapi.CallError
	var re *adminapi.ReplyError
	switch {
	case errors.As(err, &ce):
		return failed(fmt.Errorf("schedsync: %s: %s", name, ce.Msg))
	case errors.As(err, &re):
		return failed(fmt.Errorf("schedsync: %s: not an action result: %w", name, re.Err))
	case err != nil:
		return failed(fmt.Errorf("schedsync: %w", err))
	}
	if o.JSON {
		return printJSON(c, res)
	}
	printf(c, "%s\n", res.Result)
	for _, d := range res.Status {
		printSchedsyncDoc(c, d)
	}
	return nil
}

func schedsyncStatusCommand(g *globalOptions, o *schedsyncOptions, admin cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "this node's status: role, state with reason and since, peer, epoch",
		Description: "Reads GET /v1/status from the running daemon. Exits 1 unless the state is\n" +
			"Synced or No redundancy, so scripts and monitoring can use it directly.\n" +
			"During a transfer it shows files and bytes done of total, rate and ETA;\n" +
			"--watch redraws every second (Ctrl-C stops it, exit 0).\n\n" +
			"EXAMPLES\n   redund schedsync status\n   redund schedsync status --watch\n" +
			"   redund schedsync status --json | jq '.[0].state'\n\n" +
			exitHelp("the state is Synced or No redundancy (or --watch was stopped)", "the daemon could not be reached, or any other state"),
		Flags: []cli.Flag{admin, &cli.BoolFlag{Name: "json", Usage: "print the status documents as JSON", Destination: &o.JSON},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "redraw every second until interrupted", Destination: &o.Watch}},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runSchedsyncStatus(c, g, o) }),
	}
}

func runSchedsyncStatus(c *cli.Context, g *globalOptions, o *schedsyncOptions) error {
	t, err := adminTarget(g, o.Admin, "schedsync")
	if err != nil {
		return err
	}
	if o.Watch {
		return watchSchedsync(c, t, o.JSON)
	}
	docs, err := fetchSchedsync(c.Context, t)
	if err != nil {
		return failed(fmt.Errorf("schedsync status: %w", err))
	}
	if o.JSON {
		err = printJSON(c, docs)
	} else {
		for _, d := range docs {
			printSchedsyncDoc(c, d)
		}
	}
	if err != nil {
		return err
	}
	for _, d := range docs {
		if st := schedsync.State(d.State); st != schedsync.StateSynced && st != schedsync.StateNoRedundancy {
			return failed(nil)
		}
	}
	return nil
}

func fetchSchedsync(ctx context.Context, t adminapi.Target) ([]status.Document, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rep, err := (&adminapi.Client{Trust: t.Trust}).Fetch(ctx, t.Endpoint)
	if err != nil {
		return nil, err
	}
	docs := []status.Document{}
	for _, d := range rep.Instances {
		if d.Scheme == "schedsync" {
			docs = append(docs, d)
		}
	}
	return docs, nil
}

// watchSchedsync redraws the status every second until interrupted (a
// normal exit); an unreachable daemon is shown, not fatal. With --json,
// one compact JSON document a frame.
func watchSchedsync(c *cli.Context, target adminapi.Target, asJSON bool) error {
	tty := false
	if f, ok := c.App.Writer.(*os.File); ok {
		tty = term.IsTerminal(f.Fd())
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		docs, err := fetchSchedsync(c.Context, target)
		if c.Context.Err() != nil {
			return nil
		}
		switch {
		case asJSON:
			_ = json.NewEncoder(c.App.Writer).Encode(docs)
		default:
			if tty {
				printf(c, "\x1b[H\x1b[2J") // home, clear screen
			}
			printf(c, "redund schedsync status  %s  (every 1s, Ctrl-C to stop)\n", time.Now().Format("15:04:05"))
			if err != nil {
				printf(c, "unreachable: %s\n", adminapi.Reason(err))
			}
			for _, d := range docs {
				printSchedsyncDoc(c, d)
			}
		}
		select {
		case <-c.Context.Done():
			return nil
		case <-t.C:
		}
	}
}

func printSchedsyncDoc(c *cli.Context, d status.Document) {
	printf(c, "%s: %s, %s since %s", d.Instance, d.Role, d.State, status.Ago(time.Now(), d.Since))
	if d.Reason != "" {
		printf(c, " (%s)", d.Reason)
	}
	printf(c, "\n")
	if d.Peer != nil {
		printf(c, "  peer %s connected=%v\n", d.Peer.Address, d.Peer.Connected)
	}
	if e, ok := d.Details["epoch"]; ok {
		printf(c, "  epoch %v, conflicts moved aside %v\n", e, d.Details["conflicts_total"])
	}
	if note, ok := d.Details["role_note"]; ok {
		printf(c, "  %v\n", note)
	}
	if w, ok := d.Details["witness"].(map[string]any); ok {
		printf(c, "  witness: %s\n", witnessLine(w))
	}
	if h, ok := d.Details["hook_running"].(map[string]any); ok {
		printf(c, "  hook: %v running for %.0fs, %v more waiting\n", h["hook"], h["running_s"], h["queued"])
	}
	for _, k := range [][2]string{{"progress", "progress"}, {"peer_progress", "secondary's progress"}} {
		if p := progressOf(d.Details[k[0]]); p != nil {
			printf(c, "  %s: %s\n", k[1], p)
		}
	}
}

// progressOf reads a transfer's progress from a status document's details
// (a JSON object once decoded); nil when there is none.
func progressOf(v any) *schedsync.Progress {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var p schedsync.Progress
	if json.Unmarshal(b, &p) != nil {
		return nil
	}
	return &p
}

// witnessLine is the witness part of a schedsync status document in one
// line: "holds the lock, fence 42; holder a (fence 42); etcd 3/3 reachable".
func witnessLine(w map[string]any) string {
	s := "does not hold the lock"
	if w["held"] == true {
		s = "holds the lock"
	} else if w["campaigning"] == true {
		s = "campaigning for the lock"
	}
	if f, ok := w["fence"]; ok {
		s += fmt.Sprintf(", fence %v", f)
	}
	if h, _ := w["holder"].(string); h != "" {
		s += fmt.Sprintf("; holder %s (fence %v)", h, w["holder_fence"])
	} else {
		s += "; no holder known"
	}
	s += fmt.Sprintf("; etcd %v reachable", w["reachable"])
	if e, _ := w["error"].(string); e != "" {
		s += "; " + e
	}
	return s
}
