package main

import "github.com/urfave/cli/v2"

// newStatusCommand is a placeholder until the status view lands.
func newStatusCommand(_ *globalOptions) *cli.Command {
	return &cli.Command{Name: "status", Usage: "one view of every running redund instance"}
}
