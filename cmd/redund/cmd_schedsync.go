package main

import "github.com/urfave/cli/v2"

// newSchedsyncCommand is a placeholder until the schedsync scheme lands.
func newSchedsyncCommand(_ *globalOptions) *cli.Command {
	return &cli.Command{Name: "schedsync", Usage: "primary/secondary sync of a data directory"}
}
