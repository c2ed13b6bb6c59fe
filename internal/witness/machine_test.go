package witness

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func at(d time.Duration) time.Time { return t0.Add(d) }

// With a 2 s TTL: deadline = sent + 1.5 s, a keep-alive every 333 ms.
var tm = newTiming(2 * time.Second)

// fresh is a machine that wants lock gw and has no lease yet.
func fresh() *machine {
	m := newMachine(tm)
	m.locks["gw"] = &lockState{want: true}
	return m
}

// leased has lease 7, granted at t0, and lock gw campaigning on it.
func leased() *machine {
	m := fresh()
	m.lease, m.deadline, m.renewAt = 7, at(1500*time.Millisecond), at(tm.renew)
	m.locks["gw"].phase, m.locks["gw"].lease = campaigning, 7
	return m
}

// holds holds gw with fence 42 on lease 7; a keep-alive is running.
func holds() *machine {
	m := leased()
	m.renewing = true
	m.locks["gw"].phase, m.locks["gw"].fence = holding, 42
	return m
}

func lostEv(reason string, now time.Time) effect {
	return effEvent{"gw", Event{Kind: Lost, Lock: "gw", Fence: 42, Reason: reason, At: now}}
}

var errBoom = errors.New("boom")

func TestMachineStep(t *testing.T) {
	deadlineReason := "no keep-alive answered within 1.5s"
	tests := []struct {
		name  string
		m     *machine
		in    any
		now   time.Time
		want  []effect
		check func(t *testing.T, m *machine)
	}{
		{name: "start: grant a lease", m: fresh(), in: inTick{}, now: t0,
			want: []effect{effGrant{}}},
		{name: "granted: deadline from the send time, campaign", m: func() *machine { m := fresh(); m.granting = true; return m }(),
			in: inGranted{lease: 7, sent: t0}, now: at(300 * time.Millisecond),
			want: []effect{effCampaign{"gw", 7}},
			check: func(t *testing.T, m *machine) {
				if m.deadline != at(1500*time.Millisecond) || m.renewAt != at(tm.renew) || m.granting {
					t.Errorf("deadline %v renewAt %v granting %v", m.deadline.Sub(t0), m.renewAt.Sub(t0), m.granting)
				}
			}},
		{name: "grant failed: back off", m: func() *machine { m := fresh(); m.granting, m.failures = true, 2; return m }(),
			in: inGranted{err: errBoom}, now: t0,
			check: func(t *testing.T, m *machine) {
				if m.grantAt != at(4*tm.retry) || m.lastErr == "" {
					t.Errorf("grantAt %v lastErr %q", m.grantAt.Sub(t0), m.lastErr)
				}
			}},
		{name: "renew when due", m: holds(), in: inRenewed{lease: 7, sent: t0}, now: at(tm.renew),
			want: []effect{effRenew{7}}},
		{name: "renewed: deadline moves to its send time + ttl - margin", m: holds(),
			in: inRenewed{lease: 7, sent: at(time.Second)}, now: at(1100 * time.Millisecond),
			check: func(t *testing.T, m *machine) {
				if m.deadline != at(2500*time.Millisecond) || m.renewing {
					t.Errorf("deadline %v renewing %v", m.deadline.Sub(t0), m.renewing)
				}
			}},
		{name: "renewed with an older send time: deadline kept", m: func() *machine { m := holds(); m.deadline = at(3 * time.Second); return m }(),
			in: inRenewed{lease: 7, sent: at(time.Second)}, now: at(1200 * time.Millisecond),
			check: func(t *testing.T, m *machine) {
				if m.deadline != at(3*time.Second) {
					t.Errorf("deadline %v", m.deadline.Sub(t0))
				}
			}},
		{name: "keep-alive failed: retry soon, keep holding", m: holds(),
			in: inRenewed{lease: 7, sent: t0, err: errBoom}, now: at(500 * time.Millisecond),
			check: func(t *testing.T, m *machine) {
				if m.renewAt != at(550*time.Millisecond) || m.locks["gw"].phase != holding {
					t.Errorf("renewAt %v phase %v", m.renewAt.Sub(t0), m.locks["gw"].phase)
				}
			}},
		{name: "late answer for an old lease: ignored", m: holds(), in: inRenewed{lease: 6, sent: t0, gone: true}, now: at(time.Second)},
		{name: "just before the deadline: still held", m: holds(), in: inTick{}, now: at(1499 * time.Millisecond)},
		{name: "deadline: Lost before the lease is dropped, then a new grant", m: holds(), in: inTick{}, now: at(1500 * time.Millisecond),
			want: []effect{lostEv(deadlineReason, at(1500*time.Millisecond)), effCancel{"gw"}, effDrop{7}, effGrant{}},
			check: func(t *testing.T, m *machine) {
				if m.lease != 0 || m.locks["gw"].phase != idle {
					t.Errorf("lease %d phase %v", m.lease, m.locks["gw"].phase)
				}
			}},
		{name: "etcd says the lease is gone", m: holds(), in: inRenewed{lease: 7, sent: t0, gone: true}, now: at(time.Second),
			want: []effect{lostEv("etcd says the lease has expired", at(time.Second)), effCancel{"gw"}, effDrop{7}, effGrant{}}},
		{name: "deadline while campaigning: cancel, no event", m: leased(), in: inTick{}, now: at(2 * time.Second),
			want: []effect{effCancel{"gw"}, effDrop{7}, effGrant{}},
			check: func(t *testing.T, m *machine) {
				if m.locks["gw"].phase != cancelling {
					t.Errorf("phase %v", m.locks["gw"].phase)
				}
			}},
		{name: "campaign won: Acquired", m: func() *machine { m := leased(); m.renewing = true; return m }(),
			in: inCampaigned{lock: "gw", lease: 7, fence: 42}, now: at(time.Second),
			want: []effect{effEvent{"gw", Event{Kind: Acquired, Lock: "gw", Fence: 42, At: at(time.Second)}}, effGuard{"gw", 7, 42}}},
		{name: "campaign won after the deadline: not held", m: func() *machine { m := leased(); m.renewing = true; return m }(),
			in: inCampaigned{lock: "gw", lease: 7, fence: 42}, now: at(1600 * time.Millisecond),
			want: []effect{effDrop{7}, effGrant{}}, // the key goes with the lease
			check: func(t *testing.T, m *machine) {
				if m.locks["gw"].phase != idle {
					t.Errorf("phase %v", m.locks["gw"].phase)
				}
			}},
		{name: "campaign won on a lease given up: ignored", m: func() *machine { m := leased(); m.lease = 8; m.renewing = true; return m }(),
			in: inCampaigned{lock: "gw", lease: 7, fence: 42}, now: at(time.Second),
			want: []effect{effCampaign{"gw", 8}}},
		{name: "campaign won after Resign: resign it", m: func() *machine {
			m := leased()
			m.renewing, m.locks["gw"].want, m.locks["gw"].phase = true, false, cancelling
			return m
		}(), in: inCampaigned{lock: "gw", lease: 7, fence: 42}, now: at(time.Second),
			want: []effect{effResign{"gw", 7, 42}}},
		{name: "campaign failed: retry later", m: func() *machine { m := leased(); m.renewing = true; return m }(),
			in: inCampaigned{lock: "gw", lease: 7, err: errBoom}, now: at(time.Second),
			check: func(t *testing.T, m *machine) {
				l := m.locks["gw"]
				if l.phase != idle || l.retryAt != at(time.Second+tm.retry) || m.wake() != l.retryAt {
					t.Errorf("phase %v retryAt %v wake %v", l.phase, l.retryAt.Sub(t0), m.wake().Sub(t0))
				}
			}},
		{name: "Resign while holding: Lost, then delete the key", m: holds(),
			in: inSync{wants: map[string]bool{"gw": false}}, now: at(time.Second),
			want: []effect{lostEv("resigned", at(time.Second)), effCancel{"gw"}, effResign{"gw", 7, 42}}},
		{name: "key deleted under the holding: Lost, campaign again after a pause", m: holds(),
			in: inKeyGone{lock: "gw", lease: 7, fence: 42}, now: at(time.Second),
			want: []effect{lostEv(reasonKeyGone, at(time.Second))},
			check: func(t *testing.T, m *machine) {
				l := m.locks["gw"]
				if l.phase != idle || l.retryAt != at(time.Second+tm.retry) || m.lease != 7 {
					t.Errorf("phase %v retryAt %v lease %d", l.phase, l.retryAt.Sub(t0), m.lease)
				}
				if effs := m.step(inTick{}, l.retryAt); !reflect.DeepEqual(effs, []effect{effCampaign{"gw", 7}}) {
					t.Errorf("after the pause: %#v", effs)
				}
			}},
		{name: "key gone of an earlier holding: ignored", m: holds(),
			in: inKeyGone{lock: "gw", lease: 7, fence: 41}, now: at(time.Second)},
		{name: "Resign while campaigning: cancel", m: func() *machine { m := leased(); m.renewing = true; return m }(),
			in: inSync{wants: map[string]bool{"gw": false}}, now: at(time.Second),
			want: []effect{effCancel{"gw"}}},
		{name: "Campaign again while the cancelled call runs: wait for it", m: func() *machine {
			m := leased()
			m.renewing, m.locks["gw"].phase = true, cancelling
			return m
		}(), in: inSync{wants: map[string]bool{"gw": true}}, now: at(time.Second)},
		{name: "resigned: campaign again when wanted", m: func() *machine {
			m := holds()
			m.locks["gw"].phase, m.locks["gw"].inflight = resigning, true
			return m
		}(), in: inResigned{lock: "gw", lease: 7}, now: at(time.Second),
			want: []effect{effCampaign{"gw", 7}}},
		{name: "resign failed: retried", m: func() *machine {
			m := holds()
			m.locks["gw"].want, m.locks["gw"].phase, m.locks["gw"].inflight = false, resigning, true
			return m
		}(), in: inResigned{lock: "gw", lease: 7, err: errBoom}, now: at(time.Second),
			check: func(t *testing.T, m *machine) {
				if l := m.locks["gw"]; l.phase != resigning || l.inflight || l.retryAt != at(time.Second+tm.retry) {
					t.Errorf("%+v", *l)
				}
			}},
		{name: "stop: Lost, revoke, nothing more", m: holds(), in: inStop{}, now: at(time.Second),
			want: []effect{lostEv("stopped", at(time.Second)), effCancel{"gw"}, effDrop{7}},
			check: func(t *testing.T, m *machine) {
				if !m.wake().IsZero() {
					t.Errorf("wake %v after stop", m.wake())
				}
			}},
		{name: "granted after stop: revoke it", m: func() *machine { m := fresh(); m.stopping, m.granting = true, true; return m }(),
			in: inGranted{lease: 9, sent: t0}, now: at(time.Second),
			want: []effect{effDrop{9}}},
		{name: "publish: put on the lease", m: holds(), in: inSync{pubs: map[string]uint64{"view": 1}}, now: at(100 * time.Millisecond),
			want: []effect{effPut{"view", 7}}},
		{name: "published: nothing more until the value or the lease changes", m: func() *machine {
			m := holds()
			m.pubs["view"] = &pubState{want: 1, putting: true}
			return m
		}(), in: inPut{topic: "view", lease: 7, version: 1}, now: at(100 * time.Millisecond)},
		{name: "new lease: publish again", m: func() *machine {
			m := fresh()
			m.granting = true
			m.locks["gw"].want = false
			m.pubs["view"] = &pubState{want: 1, done: 1, lease: 6}
			return m
		}(), in: inGranted{lease: 7, sent: t0}, now: at(100 * time.Millisecond),
			want: []effect{effPut{"view", 7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.m.step(tc.in, tc.now)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("effects:\n got %#v\nwant %#v", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, tc.m)
			}
		})
	}
}

// The Lost of a holder cut off from etcd comes before etcd can expire its
// lease: the deadline is at most TTL - margin after the send of the last
// answered keep-alive, however the answers were timed.
func TestMachineDeadlineBeforeExpiry(t *testing.T) {
	m := holds()
	lastSent := t0
	for i, now := 1, t0; i < 50; i++ {
		sent := now
		now = now.Add(time.Duration(i%7) * 97 * time.Millisecond) // answers slow and fast
		if now.Before(m.deadline) {
			m.step(inRenewed{lease: 7, sent: sent}, now)
			lastSent = sent
		}
	}
	effs := m.step(inTick{}, m.deadline)
	if len(effs) == 0 || effs[0].(effEvent).ev.Kind != Lost {
		t.Fatalf("no Lost at the deadline: %#v", effs)
	}
	if expiry := lastSent.Add(tm.ttl); !effs[0].(effEvent).ev.At.Before(expiry) {
		t.Fatalf("Lost at %v, etcd may expire the lease at %v", effs[0].(effEvent).ev.At, expiry)
	}
}

// TestMachineErrorClears: a keep-alive error shows in the status until the
// lease is renewed again; it does not stay there on a healthy node.
func TestMachineErrorClears(t *testing.T) {
	m := holds()
	m.step(inRenewed{lease: 7, sent: t0, err: errors.New("deadline exceeded")}, t0)
	if m.lastErr == "" {
		t.Fatal("the keep-alive error is not shown")
	}
	m.step(inRenewed{lease: 7, sent: t0.Add(100 * time.Millisecond)}, t0.Add(100*time.Millisecond))
	if m.lastErr != "" {
		t.Fatalf("error %q still shown after a renewal", m.lastErr)
	}
}
