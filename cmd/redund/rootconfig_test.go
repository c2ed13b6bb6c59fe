package main

import (
	"testing"

	"github.com/redund/redund/gateway"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/schedsync"
)

// The root config defaults every table it holds once, when it is decoded:
// the schemes read plain fields, and none is left unset.
func TestRootConfigDefaultsEveryTable(t *testing.T) {
	var f fileConfig
	src := `[voter.east]
password = "h"
[srv]
domain = "sip.example.com"
[[srv.targets]]
name = "a"
host = "a.example.com"
[gateway]
mode = "master"
[gateway.link]
plain = true
[schedsync]
mode = "primary"
[witness]
endpoints = ["http://127.0.0.1:2379"]
[ddns.cat]
name = "www.example.test"
[[ddns.cat.servers]]
name = "a"
check = { kind = "http", url = "http://192.0.2.1/" }
`
	if err := config.Decode("redund.toml", src, &f); err != nil {
		t.Fatal(err)
	}
	v := f.Voter["east"]
	for _, c := range []struct {
		table string
		unset bool
	}{
		{"voter", v.Listen == "" || v.Buflen == 0 || v.Linger == nil || v.Sanity == nil || v.GPSDir == ""},
		{"srv", f.Srv.TTL == 0 || len(f.Srv.Transports) == 0 || f.Srv.Timeout == 0 || f.Srv.Targets[0].Weight == nil},
		{"gateway", f.Gateway.FailoverTimeout == 0 || f.Gateway.Mode != gateway.ModeMaster},
		{"gateway.link", f.Gateway.Link.PingInterval == 0 || f.Gateway.Link.MaxMissed == 0},
		{"schedsync", f.Schedsync.Workers == 0 || f.Schedsync.Mode != schedsync.ModePrimary},
		{"witness", f.Witness.TTL == 0 || f.Witness.Prefix == ""},
		{"ddns", f.Ddns["cat"].Interval == 0},
		{"ddns check", f.Ddns["cat"].Servers[0].Check.Timeout == 0 || f.Ddns["cat"].Servers[0].Check.Method == ""},
	} {
		t.Run(c.table, func(t *testing.T) {
			if c.unset {
				t.Errorf("[%s] has a default left unset", c.table)
			}
		})
	}
}
