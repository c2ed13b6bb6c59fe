package main

import "github.com/urfave/cli/v2"

// newGatewayCommand is a placeholder until the gateway scheme lands.
func newGatewayCommand(_ *globalOptions) *cli.Command {
	return &cli.Command{Name: "gateway", Usage: "master/backup pair with replication and client failover"}
}
