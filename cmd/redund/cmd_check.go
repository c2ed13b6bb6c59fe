package main

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/health"
)

// checkOptions are the flags of one `redund check <kind>` command; they fill
// a health.Config, so flag names mirror the TOML keys (docs/check.md).
type checkOptions struct {
	Config  health.Config
	Status  cli.StringSlice
	Timeout time.Duration
	JSON    bool
}

var checkOutputHelp = "Prints one line: OK or ERR, the probe's latency and its reason\n" +
	"(`OK 12.3ms HTTP 200`, `ERR 3000.1ms timeout after 3s`); --json prints an object.\n" +
	"Flags may come before or after the arguments.\n\n" + checkExitHelp

var checkExitHelp = exitHelp("the probe is OK", "the probe failed (ERR); the reason is printed")

func newCheckCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "run one health probe (http, tcp, dns, exec) and print the result",
		Description: "Runs the probe a [*.check] table of the config would run, once, so you can\n" +
			"try a check before writing it down. See docs/check.md.\n\n" + checkExitHelp,
		Subcommands: []*cli.Command{checkHTTP(), checkTCP(), checkDNS(), checkExec()},
	}
}

func commonCheckFlags(o *checkOptions) []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "timeout", Value: health.DefaultTimeout, Usage: "give up after this long", Destination: &o.Timeout},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON", Destination: &o.JSON},
	}
}

func checkHTTP() *cli.Command {
	o := &checkOptions{}
	c := &o.Config
	return &cli.Command{
		Name: "http", Usage: "GET (or HEAD) a URL, follow redirects on its host, check status and body", ArgsUsage: "URL",
		Description: "Example:\n   redund check http --musthave status=OK --addr 127.0.0.1:8080 https://example.test/health\n\n" +
			checkOutputHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "method", Value: "GET", Usage: "GET or HEAD", Destination: &c.Method},
			&cli.StringSliceFlag{Name: "status", Usage: "accepted codes, e.g. 200,301-302,2xx (default 200-399)", Destination: &o.Status},
			&cli.StringFlag{Name: "musthave", Usage: "the body must contain this", Destination: &c.MustHave},
			&cli.StringFlag{Name: "mustnothave", Usage: "the body must not contain this", Destination: &c.MustNotHave},
			&cli.IntFlag{Name: "max-bytes", Value: health.DefaultMaxBytes, Usage: "search only the first N bytes of the body", Destination: &c.MaxBytes},
			&cli.StringFlag{Name: "addr", Usage: "connect to this IP:port (or IP), keep the URL's host for Host and SNI", Destination: &c.Addr},
			&cli.BoolFlag{Name: "insecure", Usage: "do not verify the TLS certificate", Destination: &c.Insecure},
			&cli.StringFlag{Name: "redirects", Value: health.RedirectsSameHost,
				Usage: "which redirects to follow: same-host (the URL's host name), follow (any host) or none", Destination: &c.Redirects},
		}, commonCheckFlags(o)...),
		Action: func(cc *cli.Context) error {
			return runCheck(cc, o, "http", 1, func(a []string) { c.URL = a[0] })
		},
	}
}

func checkTCP() *cli.Command {
	o := &checkOptions{}
	c := &o.Config
	return &cli.Command{
		Name: "tcp", Usage: "connect to HOST:PORT, optionally send a string and expect a reply", ArgsUsage: "HOST:PORT",
		Description: "Example:\n   redund check tcp 127.0.0.1:6379 --send 'PING\\r\\n' --expect +PONG\n" +
			"--send and --expect understand \\r, \\n, \\t and \\\\.\n\n" + checkOutputHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "send", Usage: "write this after connecting", Destination: &c.Send},
			&cli.StringFlag{Name: "expect", Usage: "the reply must contain this", Destination: &c.Expect},
		}, commonCheckFlags(o)...),
		Action: func(cc *cli.Context) error {
			return runCheck(cc, o, "tcp", 1, func(a []string) {
				c.Address = a[0]
				c.Send = unescape(c.Send)
				c.Expect = unescape(c.Expect)
			})
		},
	}
}

func checkDNS() *cli.Command {
	o := &checkOptions{}
	c := &o.Config
	return &cli.Command{
		Name: "dns", Usage: "query NAME (type A by default) at a server and expect an answer", ArgsUsage: "NAME [TYPE]",
		Description: "Example:\n   redund check dns --server 127.0.0.1:53 www.example.test A --value 192.0.2.10\n\n" +
			checkOutputHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "server", Usage: "DNS server, host or host:port (port 53 by default)", Destination: &c.Server},
			&cli.StringFlag{Name: "value", Usage: "one answer must have this value", Destination: &c.Value},
		}, commonCheckFlags(o)...),
		Action: func(cc *cli.Context) error {
			return runCheck(cc, o, "dns", 2, func(a []string) {
				c.Name = a[0]
				if len(a) > 1 {
					c.Type = a[1]
				}
			})
		},
	}
}

func checkExec() *cli.Command {
	o := &checkOptions{}
	return &cli.Command{
		Name: "exec", Usage: "run a command (no shell); exit status 0 is OK", ArgsUsage: "-- COMMAND [ARG...]",
		Description: "Example:\n   redund check exec --timeout 5s -- /usr/lib/nagios/plugins/check_http -H example.test\n" +
			"The command's output, trimmed to 200 bytes, is the reason.\n\n" + checkOutputHelp,
		Flags: commonCheckFlags(o),
		Action: func(cc *cli.Context) error {
			if cc.NArg() == 0 {
				return usageErr("check exec: no command given (see --help)")
			}
			o.Config.Command = cc.Args().Slice()
			return probeOnce(cc, o, "exec")
		},
	}
}

// runCheck takes flags given after the arguments, checks that there are 1 to
// maxArgs arguments, lets set store them, then probes.
func runCheck(c *cli.Context, o *checkOptions, kind string, maxArgs int, set func([]string)) error {
	args, err := trailingFlags(c)
	if err == errHelpShown {
		return nil
	}
	if err != nil || len(args) < 1 || len(args) > maxArgs {
		if err == nil {
			err = usageErr("check %s: wrong number of arguments (see --help)", kind)
		}
		return err
	}
	set(args)
	return probeOnce(c, o, kind)
}

// checkArgs names the config keys of a check that `redund check` takes as
// arguments; every other key is a flag of the same name with hyphens.
var checkArgs = map[string]string{"url": "URL", "address": "HOST:PORT", "name": "NAME", "type": "TYPE", "command": "COMMAND"}

// flagErrors speaks of flags and arguments instead of config keys
// ("check dns: --server: missing", not "server: missing").
func flagErrors(err error, kind string) error {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return err
	}
	out := make(config.Errors, 0, len(errs))
	for _, e := range errs {
		c := *e
		if a, ok := checkArgs[c.Path]; ok {
			c.Path = a
		} else if c.Path != "" {
			c.Path = "--" + strings.ReplaceAll(c.Path, "_", "-")
		}
		c.Path = "check " + kind + ": " + c.Path
		out = append(out, &c)
	}
	return out
}

// probeOnce runs one probe and prints it; ERR exits 1, a bad check 2.
func probeOnce(c *cli.Context, o *checkOptions, kind string) error {
	if o.Timeout <= 0 {
		return usageErr("check %s: --timeout must be more than 0", kind)
	}
	o.Config.Kind = kind
	o.Config.Status = o.Status.Value()
	o.Config.Timeout = config.Duration(o.Timeout)
	ck, err := health.New(o.Config)
	if err != nil {
		return flagErrors(err, kind) // config.Errors: exit 2
	}
	r := ck.Check(c.Context)
	if o.JSON {
		b, _ := json.Marshal(checkJSON{OK: r.OK, State: state(r), Reason: r.Reason,
			LatencyMS: ms(r.Latency), Time: r.Time.UTC()})
		printf(c, "%s\n", b)
	} else {
		printf(c, "%s %.1fms %s\n", state(r), ms(r.Latency), r.Reason)
	}
	if !r.OK {
		return failed(nil)
	}
	return nil
}

// checkJSON is what `redund check --json` prints.
type checkJSON struct {
	OK        bool      `json:"ok"`
	State     string    `json:"state"`
	Reason    string    `json:"reason"`
	LatencyMS float64   `json:"latency_ms"`
	Time      time.Time `json:"time"`
}

func state(r health.Result) string {
	if r.OK {
		return health.OK.String()
	}
	return health.Err.String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

var errHelpShown = errors.New("help shown")

// trailingFlags applies flags written after the positional arguments
// (`redund check tcp HOST:PORT --send x`) and returns the arguments.
func trailingFlags(c *cli.Context) ([]string, error) {
	var args []string
	in := c.Args().Slice()
	for i := 0; i < len(in); i++ {
		a := in[i]
		if a == "--" {
			return append(args, in[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			args = append(args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			_ = cli.ShowSubcommandHelp(c)
			return nil, errHelpShown
		}
		if !hasValue && !isBoolFlag(c, name) {
			if i+1 == len(in) {
				return nil, usageErr("flag needs an argument: %s", a)
			}
			i++
			value = in[i]
		} else if !hasValue {
			value = "true"
		}
		if err := c.Set(name, value); err != nil {
			return nil, usageErr("%s: %v", a, err)
		}
	}
	return args, nil
}

func isBoolFlag(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		if _, ok := f.(*cli.BoolFlag); ok {
			for _, n := range f.Names() {
				if n == name {
					return true
				}
			}
		}
	}
	return false
}

// unescape turns \r, \n, \t and \\ typed on a command line into the characters.
func unescape(s string) string {
	return strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(s)
}
