package schedsync

import (
	"testing"
	"time"
)

// TestFailoverRule: the failover rule without the witness, one row per case.
func TestFailoverRule(t *testing.T) {
	const s = time.Second
	base := failoverFacts{Mode: ModeSecondaryFailover, Offset: 2 * s}
	with := func(f func(*failoverFacts)) failoverFacts { c := base; f(&c); return c }
	rows := []struct {
		name string
		f    failoverFacts
		want bool
	}{
		{"primary heard recently: stay", with(func(f *failoverFacts) { f.Unheard = s }), false},
		{"primary silent for failover_offset: promote", with(func(f *failoverFacts) { f.Unheard = 2 * s }), true},
		{"never heard since the start, for failover_offset: promote", with(func(f *failoverFacts) { f.Unheard = time.Hour }), true},
		{"secrets differ, the primary answers: stay", with(func(f *failoverFacts) { f.Unheard, f.Mismatch, f.SinceMismatch = time.Hour, true, 0 }), false},
		{"secrets differ, last answer within failover_offset: stay", with(func(f *failoverFacts) {
			f.Unheard, f.Mismatch, f.SinceMismatch = time.Hour, true, 1999*time.Millisecond
		}), false},
		{"secrets differ, no answer for failover_offset: promote", with(func(f *failoverFacts) {
			f.Unheard, f.Mismatch, f.SinceMismatch = time.Hour, true, 2*s
		}), true},
		{"an old mismatch does not extend a recent silence", with(func(f *failoverFacts) {
			f.Unheard, f.Mismatch, f.SinceMismatch = 2*s, true, time.Hour
		}), true},
		{"secondary-copy never promotes", with(func(f *failoverFacts) { f.Mode, f.Unheard = ModeSecondaryCopy, time.Hour }), false},
		{"configured primary (demoted) does not promote on its own", with(func(f *failoverFacts) { f.Mode, f.Unheard = ModePrimary, time.Hour }), false},
		{"witness: the witness rule decides", with(func(f *failoverFacts) { f.Witness, f.Unheard = true, time.Hour }), false},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if got := failoverRule(r.f); got != r.want {
				t.Errorf("%s: got %v, want %v (%+v)", r.name, got, r.want, r.f)
			}
		})
	}
}
