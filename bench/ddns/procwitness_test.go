package ddnsbench

import (
	"fmt"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestWitnessLeaderProcessKilled: three `redund ddns run` processes on a
// real three-member etcd decide one name. The leader's process is killed
// with SIGKILL (its lease is left to expire in etcd); another process takes
// the lock, and when main then fails it moves the record to backup. The
// update server's log shows one pusher at a time: every update carries a
// prerequisite on the value its pusher read, none was refused, the killed
// process's updates all come before the new leader's, and the third
// process never pushed.
func TestWitnessLeaderProcessKilled(t *testing.T) {
	lab := newProcLab(t, 3, 2*time.Second)
	ps := []*deciderProc{lab.start(0), lab.start(1), lab.start(2)}
	testutil.Eventually(t, 30*time.Second, "the leader points cat at main", func() bool { return lab.upd.Value() == "192.0.2.1" })
	ups := lab.upd.Updates()
	oldKey := ups[len(ups)-1].Key
	old := slices.IndexFunc(ps, func(p *deciderProc) bool { return p.Key == oldKey })
	if old < 0 || !ps[old].leads() {
		t.Fatalf("the update came from %q, which is not a leading decider", oldKey)
	}
	rest := slices.Delete(slices.Clone(ps), old, old+1)
	for _, p := range rest { // both campaign: their witnesses run
		waitAny(t, 10*time.Second, time.Time{}, []*deciderProc{p}, "witness started")
	}

	killed := time.Now()
	ps[old].kill(t, syscall.SIGKILL)
	next, _ := waitAny(t, 20*time.Second, killed, rest, `msg="lock acquired"`)
	lab.main.ok.Store(false)
	testutil.Eventually(t, 20*time.Second, "the new leader points cat at backup", func() bool { return lab.upd.Value() == "192.0.2.2" })

	ups = lab.upd.Updates()
	var keys []string // the pushers in order, one entry per run of updates
	for _, u := range ups {
		if !u.Prereq {
			t.Errorf("an update by %s carried no prerequisite: %+v", u.Key, u)
		}
		if !u.Applied {
			t.Errorf("an update by %s was refused (its prerequisite failed: another pusher wrote first): %+v", u.Key, u)
		}
		if len(keys) == 0 || keys[len(keys)-1] != u.Key {
			keys = append(keys, u.Key)
		}
	}
	if want := []string{oldKey, next.Key}; !slices.Equal(keys, want) {
		t.Errorf("pushers in order %v, want %v (the killed leader, then the one that took the lock)", keys, want)
	}
	for _, p := range rest {
		if p != next && p.leads() {
			t.Errorf("%s and %s both lead", p.Name, next.Name)
		}
	}
	if last := ups[len(ups)-1]; last.At.Before(killed) || !slices.Equal(last.Value, []string{"192.0.2.2"}) {
		t.Errorf("the last update %+v is not backup pushed after the kill", last)
	}
}

// BenchmarkWitnessProcessHandover: three `redund ddns run` processes on a
// three-member etcd (ttl 2 s); each round stops the leader's process, by
// SIGKILL (its lease expires in etcd) or by SIGTERM (it revokes its lease
// as it stops), measures the time until another process logs that it
// acquired the lock, and starts a fresh process in the stopped one's place.
// Times are between the signal and the arrival of the log line.
func BenchmarkWitnessProcessHandover(b *testing.B) {
	const ttl = 2 * time.Second
	lab := newProcLab(b, 3+2*b.N, ttl)
	ps := []*deciderProc{lab.start(0), lab.start(1), lab.start(2)}
	next := 3
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		var times []time.Duration
		for range b.N {
			var lead int
			testutil.Eventually(b, 30*time.Second, "a leader", func() bool {
				lead = slices.IndexFunc(ps, (*deciderProc).leads)
				return lead >= 0
			})
			rest := slices.Delete(slices.Clone(ps), lead, lead+1)
			for _, p := range rest {
				waitAny(b, 10*time.Second, time.Time{}, []*deciderProc{p}, "witness started")
			}
			stopped := time.Now()
			ps[lead].kill(b, sig)
			_, l := waitAny(b, 20*time.Second, stopped, rest, `msg="lock acquired"`)
			times = append(times, l.At.Sub(stopped))
			ps = append(rest, lab.start(next))
			next++
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		name := map[syscall.Signal]string{syscall.SIGKILL: "kill", syscall.SIGTERM: "term"}[sig]
		b.Logf("%s (SIG%s): new leader after p50 %v, min %v, max %v (%d rounds; ttl %v)", name, map[syscall.Signal]string{syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM"}[sig],
			times[len(times)/2], times[0], times[len(times)-1], len(times), ttl)
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, fmt.Sprintf("p50-ms-%s", name))
		b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, fmt.Sprintf("max-ms-%s", name))
	}
}
