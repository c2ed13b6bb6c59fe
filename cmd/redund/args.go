package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst moves the flags written after a command's positional arguments
// in front of them (`redund ddns propagation cat --resolver 192.0.2.53`
// becomes `... propagation --resolver 192.0.2.53 cat`), because urfave/cli
// stops reading flags at the first argument. So flags may come before or
// after the arguments of every command, as the docs and --help show them.
// Everything after "--" stays as it is, in place: it is an argument even if
// it starts with "-".
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	cmds, flags := app.Commands, app.Flags
	i := 1
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return args
		}
		if isFlag(a) {
			i += 1 + flagValues(flags, a)
			continue
		}
		sub := findCommand(cmds, a)
		if sub == nil {
			break // the first positional argument of the leaf command
		}
		cmds, flags = sub.Subcommands, sub.Flags
		i++
	}
	if i >= len(args) {
		return args
	}
	var moved, positional []string
	rest := args[i:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			positional = append(positional, rest[j:]...)
			j = len(rest)
		case isFlag(a) && j+flagValues(flags, a) >= len(rest):
			// a flag without its value: left last, where it is reported
			// ("flag needs an argument") instead of eating an argument
			positional = append(positional, a)
		case isFlag(a):
			n := flagValues(flags, a)
			moved = append(moved, rest[j:j+1+n]...)
			j += n
		default:
			positional = append(positional, a)
		}
	}
	out := append(append(append([]string{}, args[:i]...), moved...), positional...)
	return out
}

// isFlag: "-x", "--name", "--name=v"; not "-" (standard input) nor a
// negative number.
func isFlag(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	return !(a[1] >= '0' && a[1] <= '9')
}

// flagValues is how many of the following words flag a takes: 0 for a
// boolean or a "--name=value", else 1.
func flagValues(flags []cli.Flag, a string) int {
	name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
	if hasValue || name == "help" || name == "h" || name == "version" || name == "v" {
		return 0
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if bf, ok := f.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				return 0
			}
			if _, ok := f.(*cli.BoolFlag); ok {
				return 0
			}
			return 1
		}
	}
	return 0 // unknown: urfave/cli reports it
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		for _, n := range c.Names() {
			if n == name {
				return c
			}
		}
	}
	return nil
}
