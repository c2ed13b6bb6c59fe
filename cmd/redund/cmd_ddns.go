package main

import "github.com/urfave/cli/v2"

// newDdnsCommand is a placeholder until the ddns scheme lands.
func newDdnsCommand(_ *globalOptions) *cli.Command {
	return &cli.Command{Name: "ddns", Usage: "health-checked DNS failover"}
}
