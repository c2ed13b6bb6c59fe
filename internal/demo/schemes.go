package demo

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/redund/redund/internal/authdns"
)

type webRow struct {
	Name, IP, URL string
	Prio          int
}

func (d *Demo) startDDNS(ctx context.Context) error {
	d.dns = authdns.New("demo.test.", "demo-key.", demoSecret)
	if err := d.dns.Start("127.0.0.1:0"); err != nil {
		return err
	}
	var rows []webRow
	for i, name := range []string{"main", "backup", "sorry"} {
		w, err := StartWeb(name)
		if err != nil {
			return err
		}
		d.web = append(d.web, w)
		rows = append(rows, webRow{Name: name, IP: fmt.Sprintf("192.0.2.%d", 10*(i+1)), URL: w.URL(), Prio: 30 - 10*i})
	}
	cfg, err := writeConfig(d.opt.Dir, "ddns.toml", ddnsConfig, map[string]any{
		"AdminDdns": d.ports["AdminDdns"], "Dir": d.opt.Dir, "DNS": d.dns.Addr(), "Web": rows})
	if err != nil {
		return err
	}
	if _, err := d.spawn("ddns", cfg, "ddns", "run"); err != nil {
		return err
	}
	d.endpoints = append(d.endpoints, d.addr("AdminDdns"))
	const limit = 10 * time.Second
	took, ok := waitFor(ctx, limit, func() bool { return d.dnsA("cat.demo.test.") == "192.0.2.10" })
	d.log.EmitTimed("ddns", "cat.demo.test points at main (192.0.2.10)", took, limit, ok)
	return nil
}

func (d *Demo) startVoter(ctx context.Context) error {
	rtp, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", d.ports["RTP"]))
	if err != nil {
		return fmt.Errorf("demo: the voted audio's receiver: %w", err)
	}
	d.rtp = rtp
	data := map[string]any{}
	for k, v := range d.ports {
		data[k] = v
	}
	pcfg, err := writeConfig(d.opt.Dir, "voter-primary.toml", voterPrimary, data)
	if err != nil {
		return err
	}
	scfg, err := writeConfig(d.opt.Dir, "voter-secondary.toml", voterSecondary, data)
	if err != nil {
		return err
	}
	if _, err := d.spawn("voter-primary", pcfg, "voter", "serve"); err != nil {
		return err
	}
	if _, err := d.spawn("voter-secondary", scfg, "voter", "serve"); err != nil {
		return err
	}
	clients := [][]string{
		{"voter-clients-p", pcfg, d.addr("VoterP"), "hilltop-2f9c", "gps-east-5b20", "200"},
		{"voter-clients-s", scfg, d.addr("VoterS"), "harbor-81aa", "gps-west-9e13", "120"},
	}
	for _, c := range clients {
		if _, err := d.spawn(c[0], c[1], "voter", "client", "--server", c[2], "--password", c[3],
			"--host-password", "demo-host", "--master-password", c[4], "--rssi", c[5], "--tone", "800"); err != nil {
			return err
		}
	}
	d.endpoints = append(d.endpoints, d.addr("AdminVoterP"), d.addr("AdminVoterS"))
	const limit = 10 * time.Second
	took, ok := waitFor(ctx, limit, func() bool { return d.voterState(ctx) == "proxying" })
	d.log.EmitTimed("voter", "secondary west proxies its clients to primary east (one voted system)", took, limit, ok)
	return nil
}

func (d *Demo) voterState(ctx context.Context) string {
	doc, _ := d.state(ctx, d.addr("AdminVoterS"), "west")
	return doc.State
}

func (d *Demo) startSchedsync(ctx context.Context) error {
	a, b := filepath.Join(d.opt.Dir, "studio-a"), filepath.Join(d.opt.Dir, "studio-b")
	if err := mkdirs(a, b); err != nil {
		return err
	}
	for _, n := range []struct{ name, mode, dir, admin, listen, peer string }{
		{"studio-a", "primary", a, "AdminSyncA", "SyncA", "SyncB"},
		{"studio-b", "secondary-failover", b, "AdminSyncB", "SyncB", "SyncA"},
	} {
		cfg, err := writeConfig(d.opt.Dir, n.name+".toml", schedsyncConfig, map[string]any{
			"Admin": d.ports[n.admin], "Mode": n.mode, "Dir": n.dir, "Listen": d.ports[n.listen],
			"Peer": d.ports[n.peer], "Node": n.name})
		if err != nil {
			return err
		}
		if _, err := d.spawn(n.name, cfg, "schedsync", "run"); err != nil {
			return err
		}
	}
	d.endpoints = append(d.endpoints, d.addr("AdminSyncA"), d.addr("AdminSyncB"))
	const limit = 15 * time.Second
	took, ok := waitFor(ctx, limit, func() bool {
		doc, _ := d.state(ctx, d.addr("AdminSyncB"), "")
		return doc.State == "Synced"
	})
	d.log.EmitTimed("schedsync", "studio-b holds a synced copy of studio-a", took, limit, ok)
	return nil
}
