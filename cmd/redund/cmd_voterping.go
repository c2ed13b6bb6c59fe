package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/voter"
)

type voterPingOptions struct {
	Admin    string
	Instance string
	JSON     bool
}

func newVoterPingCommand(g *globalOptions) *cli.Command {
	o := &voterPingOptions{}
	return &cli.Command{
		Name:      "ping",
		Usage:     "ping a connected VOTER client through the running server (chan_voter's `voter ping`)",
		ArgsUsage: "CLIENT [COUNT]",
		Description: "Asks `redund voter serve` (admin address) to send COUNT pings (default 8, one\n" +
			"every 250 ms) to CLIENT and prints chan_voter's statistics when the client has\n" +
			"echoed them all or 3 s after the last reply; COUNT 0 aborts a running ping.\n\n" +
			"EXAMPLES\n   redund voter ping hilltop\n   redund voter ping --instance east hilltop 20\n\n" +
			clientExitHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin", Destination: &o.Admin, Usage: "admin address of voter serve, host:port or unix:/path of its socket, overrides [admin]"},
			&cli.StringFlag{Name: "instance", Destination: &o.Instance, Usage: "the client's instance (needed when two have the name)"},
			&cli.BoolFlag{Name: "json", Destination: &o.JSON, Usage: "print the JSON result"},
		},
		Action: withArgs(1, 2, func(c *cli.Context) error { return runVoterPing(c, g, o) }),
	}
}

func runVoterPing(c *cli.Context, g *globalOptions, o *voterPingOptions) error {
	q := url.Values{"client": {c.Args().Get(0)}}
	if n := c.Args().Get(1); n != "" {
		q.Set("count", n)
	}
	if o.Instance != "" {
		q.Set("instance", o.Instance)
	}
	t, err := adminTarget(g, o.Admin, "voter")
	if err != nil {
		return err
	}
	var out []byte
	err = t.Call(c.Context, http.MethodPost, voter.PingPath+"?"+q.Encode(), nil, &out)
	if err != nil {
		return failed(fmt.Errorf("voter ping: %w", err))
	}
	var r voter.PingResult
	if json.Unmarshal(out, &r) != nil || r.Client == "" { // "ping aborted"
		_, err = c.App.Writer.Write(out)
		return err
	}
	if o.JSON {
		if _, err := c.App.Writer.Write(out); err != nil {
			return err
		}
	} else {
		printResult(c, r)
	}
	if r.TimedOut || r.Received < r.Sent {
		return failed(fmt.Errorf("voter ping: %d of %d pings answered", r.Received, r.Sent))
	}
	return nil
}

// printResult prints a ping sequence as chan_voter's `voter ping` does.
func printResult(c *cli.Context, r voter.PingResult) {
	printf(c, "PING (%s): Packets tx: %d, rx: %d, oos: %d, Avg.: %0.3f ms\n", r.Client, r.Sent, r.Received, r.OutOfSequence, r.AvgMS)
	printf(c, "PING (%s): Worst: %d ms, Best: %d ms, %0.1f%% Packets successfully received (%0.1f%% loss)\n",
		r.Client, r.WorstMS, r.BestMS, r.ReceivedPct, 100-r.ReceivedPct)
}
