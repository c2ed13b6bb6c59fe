package health

import (
	"fmt"
	"math"
	"time"
)

// fdReserve is what a daemon needs besides its probes: listeners, the
// etcd client, state and log files, provider updates.
const fdReserve = 256

// socketShare (of a defaulted c) is how many file descriptors a probe of c holds on average
// when every probe runs until its timeout: one socket (HTTP, TCP, DNS) or
// three pipes (exec) for timeout/interval of the time.
func socketShare(c Config, o MonitorOptions) float64 {
	per := 1.0
	if c.Kind == "exec" {
		per = 3
	}
	frac := float64(c.Timeout.D()) / float64(max(o.Interval, time.Millisecond))
	return per * min(1, frac)
}

// FDsNeeded is how many file descriptors the probes and the rest of the
// daemon may hold at once: when every target times out, each probe holds
// its socket for timeout out of every interval (their starts are spread
// over the interval), and fdReserve for the rest.
func (p *Probes) FDsNeeded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	sum := 0.0
	for _, sp := range p.probes {
		sum += sp.fds
	}
	return int(math.Ceil(sum)) + fdReserve
}

// CheckFDs raises the soft limit on open files (RLIMIT_NOFILE) to the hard
// limit if the probes need more (Go raises it at start already; this
// covers a limit lowered since), and returns an error naming the numbers
// when FDsNeeded is still above it. Without the check, a probe that cannot
// open a socket fails with "too many open files" and its server is
// counted down: a local shortage would move DNS names.
func (p *Probes) CheckFDs() error {
	need := p.FDsNeeded()
	limit, hard, ok := raiseOpenFiles(uint64(need))
	if !ok || uint64(need) <= limit {
		return nil
	}
	return fmt.Errorf("health: %d probes may hold %d file descriptors at once (each probe's timeout / interval, "+
		"when every target times out) plus %d for the rest of the daemon, more than the open-file limit of %d "+
		"(hard limit %d): raise it (LimitNOFILE= in the systemd unit, ulimit -n), shorten the checks' timeouts, "+
		"or let names share checks (equal checks at the same interval are one probe)",
		p.Len(), need-fdReserve, fdReserve, limit, hard)
}
