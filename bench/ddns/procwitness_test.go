package ddnsbench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/redund/redund/internal/testutil"
)

// deleteLog is when a watch saw keys under a prefix deleted.
type deleteLog struct {
	mu sync.Mutex
	at []time.Time
}

// watchDeletes watches prefix in etcd until the benchmark ends.
func watchDeletes(b *testing.B, endpoints []string, prefix string) *deleteLog {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &deleteLog{}
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(done)
		wch := cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		for resp := range wch {
			if resp.Created {
				close(ready)
			}
			now := time.Now()
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					l.mu.Lock()
					l.at = append(l.at, now)
					l.mu.Unlock()
				}
			}
		}
	}()
	<-ready
	b.Cleanup(func() { cancel(); <-done; _ = cli.Close() })
	return l
}

// first is the first deletion seen after t.
func (l *deleteLog) first(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, at := range l.at {
		if at.After(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

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
//
// Each time is split in two by a watch on the lock's keys in etcd: from the
// signal until etcd deleted the old leader's key (its lease expired or was
// revoked), and from then until the new leader's log line (the waiting
// campaign's watch, its check of its key, the witness loop and the log).
func BenchmarkWitnessProcessHandover(b *testing.B) {
	const ttl = 2 * time.Second
	lab := newProcLab(b, 3+2*b.N, ttl)
	deletes := watchDeletes(b, lab.cl.Endpoints(), "/redund/lock/ddns.cat/")
	ps := []*deciderProc{lab.start(0), lab.start(1), lab.start(2)}
	next := 3
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		var times, expiry, takeover []time.Duration
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
			if del, ok := deletes.first(stopped); ok {
				expiry, takeover = append(expiry, del.Sub(stopped)), append(takeover, l.At.Sub(del))
			}
			ps = append(rest, lab.start(next))
			next++
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		name := map[syscall.Signal]string{syscall.SIGKILL: "kill", syscall.SIGTERM: "term"}[sig]
		b.Logf("%s (SIG%s): new leader after p50 %v, min %v, max %v (%d rounds; ttl %v)", name, map[syscall.Signal]string{syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM"}[sig],
			times[len(times)/2], times[0], times[len(times)-1], len(times), ttl)
		for _, part := range []struct {
			what string
			ds   []time.Duration
		}{{"signal to key deleted in etcd", expiry}, {"key deleted to new leader's log line", takeover}} {
			if len(part.ds) > 0 {
				sort.Slice(part.ds, func(i, j int) bool { return part.ds[i] < part.ds[j] })
				b.Logf("  %s: p50 %v, min %v, max %v", part.what, part.ds[len(part.ds)/2], part.ds[0], part.ds[len(part.ds)-1])
			}
		}
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, fmt.Sprintf("p50-ms-%s", name))
		b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, fmt.Sprintf("max-ms-%s", name))
	}
}
