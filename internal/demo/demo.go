package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/authdns"
	"github.com/redund/redund/internal/status"
)

// Options control a demo run.
type Options struct {
	Bin      string        // the redund binary (os.Executable())
	Dir      string        // scratch directory; removed by the caller
	Out      io.Writer     // where the view and events go
	Plain    bool          // no colour, no screen redraws: one event per line
	NoColor  bool          // the live view without colour (NO_COLOR)
	Duration time.Duration // stop after this long (0: until ctx ends)
	Once     bool          // stop when the failure schedule has played
	Width    int
}

// Demo is a running demo: the processes, servers and endpoints.
type Demo struct {
	opt       Options
	log       *Log
	procs     Procs
	dns       *authdns.Server
	web       []*WebServer
	endpoints []string
	p         map[string]*Proc // by role name
	ports     map[string]int
	srv       string // the SRV records, shown again after the live view
	// rtp stands for the PBX at the primary's rtp_out: bound and never
	// read (the kernel drops what does not fit), so that the voted stream
	// has somewhere to go; a closed port is an rtp_out error.
	rtp net.PacketConn
}

// Run starts everything, plays the failure schedule, shows the status view
// until ctx ends or Duration passes, then stops everything. It returns an
// error when a scheme could not start or a promise was not kept.
func Run(ctx context.Context, opt Options) error {
	d := &Demo{opt: opt, log: NewLog(), p: map[string]*Proc{}}
	if opt.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Duration)
		defer cancel()
	}
	defer d.stop()
	if opt.Plain {
		d.log.Sink = func(e Event) { fmt.Fprintln(opt.Out, e) }
	}
	if err := d.start(ctx); err != nil {
		return err
	}
	stopView := d.startView(ctx)
	left := d.schedule(ctx)
	if !opt.Once {
		<-ctx.Done()
	}
	stopView() // a later redraw would clear the summary off the screen
	d.summary(ctx)
	for _, e := range d.log.Events() {
		if !e.OK {
			return fmt.Errorf("demo: a promise was not kept: %s", e.Message)
		}
	}
	if msg := notPlayed(d.steps(), left); msg != "" {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errors.New("demo: --duration ended it: " + msg) // asked for a run that shows less
		}
		fmt.Fprintln(opt.Out, "\nstopped: "+msg)
	}
	return nil
}

func (d *Demo) stop() {
	d.procs.StopAll()
	for _, w := range d.web {
		w.Close()
	}
	if d.dns != nil {
		d.dns.Close()
	}
	if d.rtp != nil {
		d.rtp.Close()
	}
}

func (d *Demo) start(ctx context.Context) error {
	ports, err := freePorts(13)
	if err != nil {
		return err
	}
	names := []string{"AdminVoterP", "AdminVoterS", "VoterP", "VoterS", "RTP", "AdminDdns",
		"AdminSyncA", "AdminSyncB", "SyncA", "SyncB", "AdminGwA", "AdminGwB", "GwLink"}
	d.ports = map[string]int{}
	for i, n := range names {
		d.ports[n] = ports[i]
	}
	d.srvRecords()
	for _, step := range []func(context.Context) error{d.startDDNS, d.startVoter, d.startSchedsync, d.startGateway} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// spawn starts `redund --config cfg args...` as a named process.
func (d *Demo) spawn(name, cfg string, args ...string) (*Proc, error) {
	p := &Proc{Name: name, Bin: d.opt.Bin, Dir: d.opt.Dir,
		Args: append([]string{"--config", cfg, "--log-level", "info"}, args...),
		OnExit: func(p *Proc, err error) {
			d.log.Emit("demo", fmt.Sprintf("%s exited unexpectedly (%v); its log ends:\n%s", p.Name, err, p.LogTail(5)), false)
		}}
	d.p[name] = p
	return p, d.procs.Add(p)
}

// srvRecords prints the SRV/NAPTR records of a sample SIP platform.
func (d *Demo) srvRecords() {
	cfg, err := writeConfig(d.opt.Dir, "srv.toml", srvConfig, nil)
	if err != nil {
		d.log.Emit("srv", "cannot write config: "+err.Error(), false)
		return
	}
	out, err := exec.Command(d.opt.Bin, "--config", cfg, "srv", "gen", "--format", "zone").CombinedOutput()
	if err != nil {
		d.log.Emit("srv", fmt.Sprintf("srv gen failed: %v: %s", err, out), false)
		return
	}
	d.srv = fmt.Sprintf("SRV + NAPTR records for a sample SIP platform (east phones try ms1, ms2, ms3; west the reverse):\n\n%s\n", out)
	fmt.Fprint(d.opt.Out, d.srv) // the live view's first redraw clears it: summary shows it again
	n := strings.Count(string(out), " SRV ")
	d.log.Emit("srv", fmt.Sprintf("generated %d SRV records for 2 zones x 2 transports", n), n > 0)
}

// state fetches one instance's document from an admin endpoint.
func (d *Demo) state(ctx context.Context, endpoint, instance string) (status.Document, bool) {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	r, err := adminapi.Fetch(ctx, endpoint)
	if err != nil {
		return status.Document{}, false
	}
	for _, doc := range r.Instances {
		if instance == "" || doc.Instance == instance {
			return doc, true
		}
	}
	return status.Document{}, false
}

func (d *Demo) addr(name string) string { return fmt.Sprintf("127.0.0.1:%d", d.ports[name]) }

// dnsA is what the embedded authoritative server answers for name.
func (d *Demo) dnsA(name string) string {
	rrs := d.dns.Lookup(name, dns.TypeA)
	if len(rrs) == 0 {
		return ""
	}
	return rrs[0].(*dns.A).A.String()
}

func mkdirs(dirs ...string) error {
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}
