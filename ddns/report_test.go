package ddns

import (
	"strings"
	"testing"
)

func TestWritePlanProviderValue(t *testing.T) {
	for _, tc := range []struct {
		r    PlanResult
		want string
	}{
		{PlanResult{Provider: "p", Current: []string{"192.0.2.1", "192.0.2.2"}, WouldPush: true}, "p has: 192.0.2.1, 192.0.2.2; would push: yes"},
		{PlanResult{Provider: "p"}, "p has: (no record); would push: no"},
		{PlanResult{Provider: "p", Current: []string{"x"}, CurrentError: "timeout"}, "p has: unknown: timeout; would push: unknown"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var b strings.Builder
			WritePlan(&b, []PlanResult{tc.r})
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("got:\n%s\nwant a line with %q", b.String(), tc.want)
			}
		})
	}
}

func TestWritePropagation(t *testing.T) {
	r := &PropagationReport{Name: "cat.example.test.", Type: "A", Zone: "example.test.", ExpectedError: "refused",
		Answers: []Answer{
			{Kind: "authoritative", Server: "ns1", Addr: "127.0.0.1:53", Values: []string{"192.0.2.1"}, Agrees: true},
			{Kind: "resolver", Server: "r", Addr: "127.0.0.2:53"},
			{Kind: "resolver", Server: "s", Addr: "127.0.0.3:53", Error: "timeout"},
		}}
	var b strings.Builder
	WritePropagation(&b, r)
	out := b.String()
	for _, want := range []string{"provider has unknown: refused", "(none)", "error: timeout", "NOT all agree"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if f := strings.Fields(strings.Split(out, "\n")[2]); strings.Join(f, " ") != "authoritative ns1 127.0.0.1:53 192.0.2.1 yes" {
		t.Errorf("first answer row: %q", f)
	}
}

// TestWritePlanWitnessViews: the plan lists each decider's view as the
// quorum reads it: state, maintenance and the address the decider has.
func TestWritePlanWitnessViews(t *testing.T) {
	pw := &PlanWitness{Leader: "a", Quorum: QuorumMajority, Deciders: []View{
		{Node: "b", Servers: map[string]ServerView{"main": {State: "OK", Address: "192.0.2.99", Maintenance: true}}}}}
	var b strings.Builder
	writePlanWitness(&b, pw)
	if !strings.Contains(b.String(), "main OK (maintenance) at 192.0.2.99") {
		t.Errorf("plan:\n%s", b.String())
	}
}
