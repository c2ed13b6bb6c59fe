package schedsync

import (
	"testing"
	"time"
)

// TestWitnessRule: the witness rules, one row per case.
func TestWitnessRule(t *testing.T) {
	const s = time.Second
	base := witnessFacts{Offset: 2 * s, LockWait: 4 * s}
	with := func(f func(*witnessFacts)) witnessFacts { c := base; f(&c); return c }
	rows := []struct {
		name string
		f    witnessFacts
		want witnessAct
	}{
		{"primary starts: campaign", with(func(f *witnessFacts) { f.Role = RolePrimary }), witCampaign},
		{"primary holds: nothing", with(func(f *witnessFacts) { f.Role, f.Held, f.Wanted = RolePrimary, true, true }), witNone},
		{"primary waits for the lock within lock wait", with(func(f *witnessFacts) { f.Role, f.Wanted, f.Unheld = RolePrimary, true, 3*s }), witNone},
		{"primary without the lock for lock wait: demote", with(func(f *witnessFacts) { f.Role, f.Wanted, f.Unheld = RolePrimary, true, 4*s }), witDemote},
		{"primary that has not held the lock, another node holds it: demote at once", with(func(f *witnessFacts) {
			f.Role, f.Wanted, f.Unheld, f.OtherHolds = RolePrimary, true, s/2, true
		}), witDemote},
		{"primary that held the lock in its role, holder not updated yet: wait", with(func(f *witnessFacts) {
			f.Role, f.Wanted, f.Unheld, f.OtherHolds, f.HeldInRole = RolePrimary, true, s/2, true, true
		}), witNone},
		{"primary gets Lost: demote at once", with(func(f *witnessFacts) { f.Role, f.Wanted, f.Lost = RolePrimary, true, true }), witDemote},
		{"failover secondary served: nothing", with(func(f *witnessFacts) { f.Role, f.Eligible, f.Unserved = RoleSecondary, true, s }), witNone},
		{"failover secondary unserved for offset: campaign", with(func(f *witnessFacts) { f.Role, f.Eligible, f.Unserved = RoleSecondary, true, 2*s }), witCampaign},
		{"campaigning, still unserved: wait", with(func(f *witnessFacts) { f.Role, f.Eligible, f.Wanted, f.Unserved = RoleSecondary, true, true, 9*s }), witNone},
		{"campaigning, served again: resign", with(func(f *witnessFacts) { f.Role, f.Eligible, f.Wanted, f.Unserved = RoleSecondary, true, true, 0 }), witResign},
		{"acquired while unserved: promote", with(func(f *witnessFacts) {
			f.Role, f.Eligible, f.Wanted, f.Held, f.Unserved = RoleSecondary, true, true, true, 3*s
		}), witPromote},
		{"acquired after the primary came back: resign", with(func(f *witnessFacts) { f.Role, f.Eligible, f.Wanted, f.Held = RoleSecondary, true, true, true }), witResign},
		{"copy secondary never campaigns", with(func(f *witnessFacts) { f.Role, f.Unserved = RoleSecondary, time.Hour }), witNone},
		{"copy secondary holding (operator gave up): resign", with(func(f *witnessFacts) { f.Role, f.Held = RoleSecondary, true }), witResign},
		{"operator promote: campaign", with(func(f *witnessFacts) { f.Role, f.Forced = RoleSecondary, true }), witCampaign},
		{"operator promote acquired: promote", with(func(f *witnessFacts) { f.Role, f.Forced, f.Wanted, f.Held = RoleSecondary, true, true, true }), witPromote},
		{"demoted secondary still holding: resign", with(func(f *witnessFacts) { f.Role, f.Eligible, f.Wanted, f.Held = RoleSecondary, true, false, true }), witResign},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if got := witnessRule(r.f); got != r.want {
				t.Errorf("%s: got %s, want %s (%+v)", r.name, got, r.want, r.f)
			}
		})
	}
}
