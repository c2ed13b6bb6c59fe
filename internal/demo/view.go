package demo

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status/termview"
)

// startView runs view until the returned stop is called; stop returns once
// the last redraw has been written.
func (d *Demo) startView(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.view(ctx) }()
	return func() { cancel(); <-done }
}

// view redraws the status table and the latest events once a second
// (terminal mode); in plain mode events are printed as they happen.
func (d *Demo) view(ctx context.Context) {
	if d.opt.Plain {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		d.draw(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Demo) draw(ctx context.Context) {
	res := adminapi.FetchAll(ctx, d.endpoints, 700*time.Millisecond)
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	b.WriteString("redund demo: every scheme on loopback, failing on purpose (Ctrl-C stops and cleans up)\n\n")
	b.WriteString(termview.Render(res, termview.Options{Plain: d.opt.NoColor, Width: d.opt.Width, Now: time.Now()}))
	b.WriteString("\n\nEvents\n")
	ev := d.log.Events()
	if len(ev) > 14 {
		ev = ev[len(ev)-14:]
	}
	for _, e := range ev {
		b.WriteString(e.String() + "\n")
	}
	fmt.Fprint(d.opt.Out, b.String())
}

// summary prints the final table and every measured failover (after the
// live view, also the SRV records its redraws cleared).
func (d *Demo) summary(ctx context.Context) {
	if !d.opt.Plain && d.srv != "" {
		fmt.Fprint(d.opt.Out, "\n"+d.srv)
	}
	res := d.settled(ctx, settleWait)
	fmt.Fprintf(d.opt.Out, "\nFinal status\n%s\n\nFailovers measured\n",
		termview.Render(res, termview.Options{Plain: d.opt.Plain || d.opt.NoColor, Width: d.opt.Width, Now: time.Now()}))
	for _, e := range d.log.Events() {
		if e.Took > 0 {
			fmt.Fprintln(d.opt.Out, e)
		}
	}
}

// settleWait bounds how long the final table waits for passing states.
const settleWait = 15 * time.Second

// passingStates are states on the way somewhere: a gateway pair
// resyncing after the failback, a schedsync copy or a ddns push in flight.
var passingStates = map[string]bool{"Syncing": true, "Full sync needed": true, "Connecting": true,
	"Pushing": true, "Waiting": true, "Retrying": true}

// settled fetches every daemon's status until no instance is in a passing
// state, for at most wait and while ctx lives (a Ctrl-C does not wait), so
// that the final table shows where the schemes came to rest.
func (d *Demo) settled(ctx context.Context, wait time.Duration) []adminapi.Result {
	deadline := time.Now().Add(wait)
	for {
		res := adminapi.FetchAll(context.Background(), d.endpoints, 700*time.Millisecond)
		if ctx.Err() != nil || time.Now().After(deadline) || !anyPassing(res) {
			return res
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func anyPassing(res []adminapi.Result) bool {
	for _, r := range res {
		for _, doc := range r.Report.Instances {
			if passingStates[doc.State] {
				return true
			}
		}
	}
	return false
}

func runQuiet(ctx context.Context, bin string, args ...string) error {
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
