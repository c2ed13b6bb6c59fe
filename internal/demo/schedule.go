package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// step is one injected failure or repair and the promise it checks.
type step struct {
	at     time.Duration // after the previous step
	scheme string
	do     func(context.Context) error
	what   string        // the failure, in words
	limit  time.Duration // how long the promise allows
	until  func(context.Context) bool
	result string // what happened when until became true
}

// schedule plays the steps in order; each waits for its promise. It
// returns the steps that were not played to the end (ctx ended first).
func (d *Demo) schedule(ctx context.Context) (left []step) {
	steps := d.steps()
	for i, s := range steps {
		select {
		case <-ctx.Done():
			return steps[i:]
		case <-time.After(s.at):
		}
		d.log.Emit(s.scheme, "inject: "+s.what, true)
		if err := s.do(ctx); err != nil {
			d.log.Emit(s.scheme, "could not inject: "+err.Error(), false)
			continue
		}
		took, ok := waitFor(ctx, s.limit, func() bool { return s.until(ctx) })
		if ctx.Err() != nil {
			return steps[i:]
		}
		msg := s.result
		if !ok {
			msg = fmt.Sprintf("%s: not within %s", s.result, s.limit)
		}
		d.log.EmitTimed(s.scheme, msg, took, s.limit, ok)
	}
	d.log.Emit("demo", "every scheme failed over and recovered; Ctrl-C stops and cleans up", true)
	return nil
}

// notPlayed says which failovers a run cut short never showed, and how long
// the whole schedule takes at the least.
func notPlayed(all, left []step) string {
	if len(left) == 0 {
		return ""
	}
	var min time.Duration
	for _, s := range all {
		min += s.at
	}
	var schemes []string
	for _, s := range left {
		if !slices.Contains(schemes, s.scheme) {
			schemes = append(schemes, s.scheme)
		}
	}
	return fmt.Sprintf("the failure schedule stopped after %d of %d steps: not shown for %s (the schedule needs more than %s: a longer --duration, or --once)",
		len(all)-len(left), len(all), strings.Join(schemes, ", "), min.Round(time.Second))
}

func (d *Demo) steps() []step {
	cat := func(ip string) func(context.Context) bool {
		return func(context.Context) bool { return d.dnsA("cat.demo.test.") == ip }
	}
	main, backup := d.web[0], d.web[1]
	ddnsLimit := 2*250*time.Millisecond + 2*time.Second // fall × interval + probe timeout + push
	steps := []step{
		{2 * time.Second, "ddns", func(context.Context) error { main.SetOK(false); return nil },
			"main's page says status=ERR (okerr cat :20)", ddnsLimit, cat("192.0.2.20"), "cat.demo.test now points at backup"},
		{3 * time.Second, "ddns", func(context.Context) error { backup.SetOK(false); return nil },
			"backup's page says status=ERR too (cat :40)", ddnsLimit, cat("192.0.2.30"), "cat.demo.test points at the third server, the sorry page"},
		{3 * time.Second, "ddns", func(context.Context) error { main.SetOK(true); backup.SetOK(true); return nil },
			"both pages recover (cat :00)", ddnsLimit + time.Second, cat("192.0.2.10"), "cat.demo.test back on main"},
		{2 * time.Second, "voter", d.kill("voter-primary"), "kill -9 the primary VOTER server",
			3 * time.Second, d.voterIs("serving"), "secondary west serves its own clients (link to primary down)"},
		{4 * time.Second, "voter", d.restart("voter-primary"), "restart the primary",
			10 * time.Second, d.voterIs("proxying"), "west proxies to east again: one voted system"},
		{2 * time.Second, "schedsync", d.writeFile, "write playlist.txt on studio-a",
			3 * time.Second, d.fileArrived, "playlist.txt is on studio-b"},
		{1 * time.Second, "schedsync", d.kill("studio-a"), "kill -9 primary studio-a",
			8 * time.Second, d.syncRole("AdminSyncB", "primary"), "studio-b promoted itself after failover_offset 4s"},
		{2 * time.Second, "schedsync", d.restart("studio-a"), "restart studio-a (two primaries now)",
			8 * time.Second, d.syncState("AdminSyncA", "Incompatible"), "the pair reports Incompatible until the operator demotes one"},
		{2 * time.Second, "schedsync", d.demote("studio-a"), "operator demotes studio-a (older epoch)",
			10 * time.Second, d.syncState("AdminSyncA", "Synced"), "studio-a follows studio-b; nothing lost"},
	}
	return append(steps, d.gatewaySteps()...)
}

func (d *Demo) kill(name string) func(context.Context) error {
	return func(context.Context) error { d.p[name].Kill(); return nil }
}

func (d *Demo) restart(name string) func(context.Context) error {
	return func(context.Context) error { return d.p[name].Start() }
}

func (d *Demo) voterIs(state string) func(context.Context) bool {
	return func(ctx context.Context) bool { return d.voterState(ctx) == state }
}

func (d *Demo) syncRole(admin, role string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		doc, ok := d.state(ctx, d.addr(admin), "")
		return ok && doc.Role == role
	}
}

func (d *Demo) syncState(admin, state string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		doc, ok := d.state(ctx, d.addr(admin), "")
		return ok && doc.State == state
	}
}

var playlist = []byte("08:00 news\n08:05 music\n")

func (d *Demo) writeFile(context.Context) error {
	return os.WriteFile(filepath.Join(d.opt.Dir, "studio-a", "playlist.txt"), playlist, 0o644)
}

func (d *Demo) fileArrived(context.Context) bool {
	b, err := os.ReadFile(filepath.Join(d.opt.Dir, "studio-b", "playlist.txt"))
	return err == nil && bytes.Equal(b, playlist)
}

func (d *Demo) demote(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		p := d.p[name]
		return runQuiet(ctx, d.opt.Bin, append(p.Args[:2:2], "schedsync", "demote")...)
	}
}
