package main

import "github.com/urfave/cli/v2"

// newVoterCommand is a placeholder until the voter scheme lands.
func newVoterCommand(_ *globalOptions) *cli.Command {
	return &cli.Command{Name: "voter", Usage: "VOTER server with redundant proxy mode"}
}
