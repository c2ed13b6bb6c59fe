package srv

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/miekg/dns"
)

func srvs(prioWeight ...[2]uint16) []*dns.SRV {
	var out []*dns.SRV
	for i, pw := range prioWeight {
		out = append(out, &dns.SRV{Priority: pw[0], Weight: pw[1], Port: 5060, Target: string(rune('a'+i)) + ".example."})
	}
	return out
}

type frac struct {
	target   string
	num, den uint64
}

// TestGroupsExact checks the computed probabilities against values worked
// out by hand from RFC 2782's algorithm (integer R uniform in [0, sum]).
func TestGroupsExact(t *testing.T) {
	tests := []struct {
		name string
		rrs  []*dns.SRV
		want [][]frac // per group, in arranged order
	}{
		{"60/40", srvs([2]uint16{10, 60}, [2]uint16{10, 40}),
			[][]frac{{{"a.example.", 61, 101}, {"b.example.", 40, 101}}}},
		{"equal weights favour the first", srvs([2]uint16{10, 10}, [2]uint16{10, 10}),
			[][]frac{{{"a.example.", 11, 21}, {"b.example.", 10, 21}}}},
		{"weight 0 goes first with chance 1/(sum+1)", srvs([2]uint16{1, 10}, [2]uint16{1, 0}, [2]uint16{1, 20}),
			[][]frac{{{"b.example.", 1, 31}, {"a.example.", 10, 31}, {"c.example.", 20, 31}}}},
		{"all weight 0: the first always", srvs([2]uint16{5, 0}, [2]uint16{5, 0}),
			[][]frac{{{"a.example.", 1, 1}, {"b.example.", 0, 1}}}},
		{"two zero weights: only the first can win", srvs([2]uint16{5, 0}, [2]uint16{5, 3}, [2]uint16{5, 0}),
			[][]frac{{{"a.example.", 1, 4}, {"c.example.", 0, 4}, {"b.example.", 3, 4}}}},
		{"priority groups ascending", srvs([2]uint16{30, 10}, [2]uint16{10, 10}, [2]uint16{20, 5}),
			[][]frac{{{"b.example.", 11, 11}}, {{"c.example.", 6, 6}}, {{"a.example.", 11, 11}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			groups := Groups(tc.rrs)
			if len(groups) != len(tc.want) {
				t.Fatalf("%d groups, want %d", len(groups), len(tc.want))
			}
			for gi, g := range groups {
				var sum float64
				for ci, c := range g.Choices {
					w := tc.want[gi][ci]
					if c.Target != w.target || c.Num != w.num || c.Den != w.den {
						t.Errorf("group %d choice %d = %s %d/%d, want %s %d/%d", gi, ci, c.Target, c.Num, c.Den, w.target, w.num, w.den)
					}
					sum += c.P()
				}
				if math.Abs(sum-1) > 1e-12 {
					t.Errorf("group %d probabilities sum to %v", gi, sum)
				}
			}
		})
	}
}

// TestSampleMatchesExact runs a large seeded sample and checks every
// first-pick frequency against the exact value.
func TestSampleMatchesExact(t *testing.T) {
	rrs := srvs([2]uint16{10, 60}, [2]uint16{10, 0}, [2]uint16{10, 25}, [2]uint16{10, 15}, [2]uint16{20, 1}, [2]uint16{20, 3})
	groups := Groups(rrs)
	const n = 200_000
	Sample(groups, n, rand.New(rand.NewPCG(1, 2)))
	for _, g := range groups {
		for _, c := range g.Choices {
			sigma := math.Sqrt(c.P() * (1 - c.P()) / n)
			if d := math.Abs(c.Sampled - c.P()); d > 5*sigma+1e-9 {
				t.Errorf("prio %d %s: sampled %.5f, exact %.5f (%.1f sigma)", g.Priority, c.Target, c.Sampled, c.P(), d/sigma)
			}
		}
	}
}
