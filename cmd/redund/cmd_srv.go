package main

import "github.com/urfave/cli/v2"

// newSrvCommand is a placeholder until the srv scheme lands.
func newSrvCommand(_ *globalOptions) *cli.Command {
	return &cli.Command{Name: "srv", Usage: "SRV + NAPTR failover records for SIP phones"}
}
