package demo

import (
	"context"
	"path/filepath"
	"strings"
	"time"
)

func (d *Demo) startGateway(ctx context.Context) error {
	for _, n := range []struct{ name, node, mode, admin string }{
		{"gateway-a", "gw-a", "master", "AdminGwA"},
		{"gateway-b", "gw-b", "backup", "AdminGwB"},
	} {
		dir := filepath.Join(d.opt.Dir, n.name)
		if err := mkdirs(dir); err != nil {
			return err
		}
		cfg, err := writeConfig(d.opt.Dir, n.name+".toml", gatewayConfig, map[string]any{
			"Admin": d.ports[n.admin], "Node": n.node, "Mode": n.mode, "Link": d.ports["GwLink"], "Dir": dir})
		if err != nil {
			return err
		}
		if _, err := d.spawn(n.name, cfg, "gateway", "run"); err != nil {
			return err
		}
	}
	d.endpoints = append(d.endpoints, d.addr("AdminGwA"), d.addr("AdminGwB"))
	const limit = 15 * time.Second
	took, ok := waitFor(ctx, limit, func() bool {
		return d.gwRole(ctx, "AdminGwA") == "active" && d.gwRole(ctx, "AdminGwB") == "standby"
	})
	d.log.EmitTimed("gateway", "gw-a (master) active, gw-b (backup) standby", took, limit, ok)
	return nil
}

// gwRole is the role part ("active", "standby") of a gateway node's role.
func (d *Demo) gwRole(ctx context.Context, admin string) string {
	doc, ok := d.state(ctx, d.addr(admin), "")
	if !ok {
		return ""
	}
	_, role, _ := strings.Cut(doc.Role, "/")
	return role
}

func (d *Demo) gwIs(a, b string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		return (a == "" || d.gwRole(ctx, "AdminGwA") == a) && d.gwRole(ctx, "AdminGwB") == b
	}
}

// gatewaySteps kill the master and bring it back (automatic recovery).
func (d *Demo) gatewaySteps() []step {
	return []step{
		{2 * time.Second, "gateway", d.kill("gateway-a"), "kill -9 the master gw-a",
			2 * time.Second, d.gwIs("", "active"), "backup gw-b active (failover_timeout 1s)"},
		{3 * time.Second, "gateway", d.restart("gateway-a"), "restart gw-a (recovery = automatic)",
			10 * time.Second, d.gwIs("active", "standby"), "gw-a took control back, gw-b standby: one active node"},
	}
}
