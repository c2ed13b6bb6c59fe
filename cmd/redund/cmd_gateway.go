package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/gateway"
	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/peer"
)

type gatewayOptions struct {
	JSON       bool
	Admin      string // the command's --admin
	GroupAdmin string // `gateway --admin X cmd`, the older place
}

// admin is the --admin address given in either place (the command's wins).
func (o *gatewayOptions) admin() string {
	if o.Admin != "" {
		return o.Admin
	}
	return o.GroupAdmin
}

func newGatewayCommand(g *globalOptions) *cli.Command {
	o := &gatewayOptions{}
	adminFlag := &cli.StringFlag{Name: "admin", Usage: "admin address of the node: where run serves, where the other commands ask (then with no config file needed; they also take unix:/path of its socket); default [admin] gateway; off for run: no TCP listener, its [admin] socket_dir socket only", Destination: &o.Admin}
	// --admin belongs to each command, as for schedsync, ddns and voter
	// (`redund gateway status --admin X`); the group keeps it, hidden, so
	// that `redund gateway --admin X status` still works
	group := &cli.StringFlag{Name: "admin", Hidden: true, Usage: "same as each command's --admin", Destination: &o.GroupAdmin}
	cmd := &cli.Command{
		Name:  "gateway",
		Usage: "master/backup pair with replication and client failover (Ignition's scheme)",
		Description: "The [gateway] table makes this machine the master, the backup or an\n" +
			"independent node. Configuration is changed on the master and replicated to the\n" +
			"backup; runtime state follows the active node; history is stored and forwarded\n" +
			"without loss. The commands below talk to the running node through its admin\n" +
			"listener. See docs/gateway.md.\n\n" + groupExitHelp,
		Flags: []cli.Flag{group},
		Subcommands: []*cli.Command{
			gatewayRunCommand(g, o),
			gatewayConfigCommand(g, o),
			gatewayActionCommand(g, o, "failover", "force a failover: the active node hands control to its peer",
				"On the active node it asks the standby to take over; on the standby it takes\n"+
					"control through a handover (the active node steps down first). Both nodes must be\n"+
					"connected. Used for manual recovery and rolling upgrades.\n\n"+
					"EXAMPLE\n   redund gateway failover"),
			gatewayActionCommand(g, o, "resync", "force a full re-sync of the standby's providers",
				"On the standby it copies full snapshots from the active node; on the active node it\n"+
					"asks the standby to do so. The reason is recorded as a system event.\n\n"+
					"EXAMPLE\n   redund gateway resync"),
			gatewayStatusCommand(g, o),
			gatewayFingerprintCommand(),
		},
	}
	addToLeaves(cmd.Subcommands[:len(cmd.Subcommands)-1], adminFlag) // fingerprint asks no daemon
	return cmd
}

// addToLeaves gives flag to every command below cmds that has no
// subcommands of its own.
func addToLeaves(cmds []*cli.Command, flag cli.Flag) {
	for _, c := range cmds {
		if len(c.Subcommands) > 0 {
			addToLeaves(c.Subcommands, flag)
			continue
		}
		c.Flags = append(c.Flags, flag)
	}
}

func gatewayRunCommand(g *globalOptions, o *gatewayOptions) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run this node of the pair",
		Description: "Connects to (or waits for) the peer, takes the active or standby role, runs the\n" +
			"supervised application and serves the client listener, the status page\n" +
			"(GET /gateway), JSON status and /metrics on the [admin] gateway address.\n" +
			"Stops on SIGINT/SIGTERM.\n\nEXAMPLE\n   redund --config /etc/redund/redund.toml gateway run\n\n" + daemonExitHelp,
		Action: withArgs(0, 0, func(c *cli.Context) error { return runGateway(c.Context, g, o) }),
	}
}

func runGateway(ctx context.Context, g *globalOptions, o *gatewayOptions) error {
	cfg, err := loadConfig(g.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.Gateway == nil {
		return usageErr("gateway run: the config has no [gateway] table")
	}
	d, err := newDaemon(g, "gateway run")
	if err != nil {
		return err
	}
	gw, err := gateway.New(cfg.Gateway, gateway.Options{Log: d.Log, Version: version, Ring: d.Ring,
		AllowedHosts: cfg.Admin.AllowedHosts, Witness: cfg.Witness})
	if err != nil {
		return usageErr("%v", err)
	}
	return serve(ctx, d, gw, cfg, cfg.adminAddr(o.admin(), "gateway"), func(f *fileConfig) *gateway.Config { return f.Gateway })
}

// call runs one admin request and prints the answer.
func (o *gatewayOptions) call(c *cli.Context, g *globalOptions, method, path string, body []byte, raw bool) error {
	t, err := adminTarget(g, o.admin(), "gateway")
	if err != nil {
		return err
	}
	var out []byte
	t.Daemon = "gateway run"
	err = t.Call(c.Context, method, path, body, &out)
	if err != nil {
		return failed(gatewayCallError(err))
	}
	if raw {
		_, err = c.App.Writer.Write(out)
		return err
	}
	var r gatewayReply
	if json.Unmarshal(out, &r) == nil && r.Result != nil && !o.JSON {
		printf(c, "%s\n", *r.Result)
		return nil
	}
	_, err = c.App.Writer.Write(out)
	return err
}

// gatewayReply is the answer of a gateway action: {"result": "..."}.
type gatewayReply struct {
	Result *string `json:"result"`
}

// gatewayCallError words an admin call's error as gateway's commands do:
// the node's refusal, prefixed "gateway:", with the active node when the
// node names it; or that the daemon could not be reached.
func gatewayCallError(err error) error {
	var ce *adminapi.CallError
	if !errors.As(err, &ce) {
		return fmt.Errorf("gateway: %w", err)
	}
	msg := ce.Msg
	if !strings.HasPrefix(msg, "gateway:") {
		msg = "gateway: " + msg
	}
	if ce.Redirect != "" {
		return fmt.Errorf("%s (active node: %s)", msg, ce.Redirect)
	}
	return errors.New(msg)
}

func gatewayActionCommand(g *globalOptions, o *gatewayOptions, name, usage, desc string) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, Description: desc + "\n\n" + clientExitHelp,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Destination: &o.JSON,
			Usage: "print the node's JSON answer instead of its result line"}},
		Action: withArgs(0, 0, func(c *cli.Context) error { return o.call(c, g, http.MethodPost, "/v1/gateway/"+name, nil, false) }),
	}
}

func gatewayStatusCommand(g *globalOptions, o *gatewayOptions) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "print this node's full gateway status as JSON",
		Description: "Role, peer, settings, per-provider statistics, history forwarding and system\n" +
			"events (what the status page shows). `redund status` shows the pair in one table.\n\n" +
			"EXAMPLE\n   redund gateway status | jq .providers\n\n" + clientExitHelp,
		Action: withArgs(0, 0, func(c *cli.Context) error { return o.call(c, g, http.MethodGet, "/v1/gateway/status", nil, true) }),
	}
}

func gatewayFingerprintCommand() *cli.Command {
	return &cli.Command{
		Name:        "fingerprint",
		Usage:       "print the SHA-256 fingerprint of a certificate, for the peer's tls_peer_fingerprint",
		ArgsUsage:   "CERT.pem",
		Description: "EXAMPLE\n   redund gateway fingerprint /etc/redund/master.crt\n\n" + exitStatusHelp,
		Action: withArgs(1, 1, func(c *cli.Context) error {
			fp, err := peer.CertFingerprint(c.Args().First())
			if err != nil {
				return failed(err)
			}
			printf(c, "%s\n", fp)
			return nil
		}),
	}
}

// readFile reads file name, "-" meaning stdin.
func readFile(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

// readValue reads a value argument, "-" meaning stdin.
func readValue(arg string) ([]byte, error) {
	if arg != "-" {
		return []byte(arg), nil
	}
	return io.ReadAll(os.Stdin)
}

func gatewayConfigCommand(g *globalOptions, o *gatewayOptions) *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "read and change the replicated configuration documents (changes on the master only)",
		Description: "Documents are key/value pairs, versioned by the master's change log. A write\n" +
			"returns once it is on the master's disk; the backup pulls it. The backup refuses\n" +
			"changes (exit 1) and names the master.\n\n" +
			"EXAMPLES\n   redund gateway config set tags/pump1 '{\"scan\":\"1s\"}'\n" +
			"   redund gateway config get tags/pump1\n   redund gateway config export > backup.json\n" +
			"   redund gateway config import backup.json\n\n" + clientExitHelp,
		Subcommands: []*cli.Command{
			{Name: "set", Usage: "set a document (VALUE - reads stdin)", ArgsUsage: "KEY VALUE",
				Action: withArgs(2, 2, func(c *cli.Context) error {
					v, err := readValue(c.Args().Get(1))
					if err != nil {
						return failed(err)
					}
					return o.call(c, g, http.MethodPut, gateway.KeyPath("config", c.Args().First()), v, true)
				})},
			{Name: "get", Usage: "print a document as JSON (key, value, version)", ArgsUsage: "KEY",
				Action: withArgs(1, 1, func(c *cli.Context) error {
					return o.call(c, g, http.MethodGet, gateway.KeyPath("config", c.Args().First()), nil, true)
				})},
			{Name: "delete", Usage: "delete a document", ArgsUsage: "KEY",
				Action: withArgs(1, 1, func(c *cli.Context) error {
					return o.call(c, g, http.MethodDelete, gateway.KeyPath("config", c.Args().First()), nil, true)
				})},
			{Name: "export", Usage: "print every document as one JSON object (key → value)",
				Action: withArgs(0, 0, func(c *cli.Context) error {
					return o.call(c, g, http.MethodGet, "/v1/gateway/config", nil, true)
				})},
			{Name: "import", Usage: "set every document of a JSON object (key → value); - reads stdin", ArgsUsage: "FILE",
				Action: withArgs(1, 1, func(c *cli.Context) error {
					body, err := readFile(c.Args().First())
					if err != nil {
						return failed(err)
					}
					return o.call(c, g, http.MethodPost, "/v1/gateway/config-import", body, true)
				})},
		},
	}
}
