package srv

import (
	"math/rand/v2"
	"sort"

	"github.com/miekg/dns"
)

// Group is one priority of an SRV RRset: the records a client tries
// before any record of a higher priority value.
type Group struct {
	Priority uint16   `json:"priority"`
	Choices  []Choice `json:"choices"`
}

// Choice is one record of a group and its chance of being tried first
// within the group: exactly Num/Den under RFC 2782's selection, and the
// fraction of a sampled run (when one was made).
type Choice struct {
	Target  string  `json:"target"`
	Port    uint16  `json:"port"`
	Weight  uint16  `json:"weight"`
	Num     uint64  `json:"num"`
	Den     uint64  `json:"den"`
	Sampled float64 `json:"sampled,omitempty"`
}

// P is the exact probability as a float.
func (c Choice) P() float64 { return float64(c.Num) / float64(c.Den) }

// arrange returns the records of one priority as RFC 2782 has the client
// list them before selecting: "all those with weight 0 placed at the
// beginning of the list", the others in the order received.
func arrange(rrs []*dns.SRV) []*dns.SRV {
	out := make([]*dns.SRV, 0, len(rrs))
	for _, r := range rrs {
		if r.Weight == 0 {
			out = append(out, r)
		}
	}
	for _, r := range rrs {
		if r.Weight != 0 {
			out = append(out, r)
		}
	}
	return out
}

// Groups splits an SRV RRset into priority groups (lowest first) and
// computes each record's exact first-pick probability. RFC 2782: sum the
// weights, choose a uniform random integer R in [0, sum], select the first
// record (in arranged order) whose running sum is >= R. So the first record
// wins for R in [0, w1] (w1+1 of the sum+1 values) and record i > 1 for R
// in (S(i-1), S(i)] (wi values): P1 = (w1+1)/(sum+1), Pi = wi/(sum+1).
// A weight-0 record is chosen only as the first of the list (R = 0).
func Groups(rrs []*dns.SRV) []Group {
	byPrio := map[uint16][]*dns.SRV{}
	var prios []uint16
	for _, r := range rrs {
		if _, ok := byPrio[r.Priority]; !ok {
			prios = append(prios, r.Priority)
		}
		byPrio[r.Priority] = append(byPrio[r.Priority], r)
	}
	sort.Slice(prios, func(i, j int) bool { return prios[i] < prios[j] })
	groups := make([]Group, 0, len(prios))
	for _, p := range prios {
		list := arrange(byPrio[p])
		var sum uint64
		for _, r := range list {
			sum += uint64(r.Weight)
		}
		g := Group{Priority: p}
		for i, r := range list {
			num := uint64(r.Weight)
			if i == 0 {
				num++
			}
			g.Choices = append(g.Choices, Choice{Target: r.Target, Port: r.Port, Weight: r.Weight, Num: num, Den: sum + 1})
		}
		groups = append(groups, g)
	}
	return groups
}

// pick draws one index from an arranged list per RFC 2782.
func pick(list []*dns.SRV, rng *rand.Rand) int {
	var sum uint64
	for _, r := range list {
		sum += uint64(r.Weight)
	}
	x := rng.Uint64N(sum + 1)
	var run uint64
	for i, r := range list {
		run += uint64(r.Weight)
		if run >= x {
			return i
		}
	}
	return len(list) - 1
}

// Sample runs the selection n times and fills in each choice's Sampled
// fraction: how often it was tried first within its group.
func Sample(groups []Group, n int, rng *rand.Rand) {
	for gi := range groups {
		g := &groups[gi]
		list := make([]*dns.SRV, len(g.Choices))
		for i, c := range g.Choices {
			list[i] = &dns.SRV{Priority: g.Priority, Weight: c.Weight, Port: c.Port, Target: c.Target}
		}
		counts := make([]int, len(list))
		for k := 0; k < n; k++ {
			counts[pick(list, rng)]++
		}
		for i := range g.Choices {
			g.Choices[i].Sampled = float64(counts[i]) / float64(n)
		}
	}
}

// SRVs returns the SRV records of rrs.
func SRVs(rrs []dns.RR) []*dns.SRV {
	var out []*dns.SRV
	for _, r := range rrs {
		if s, ok := r.(*dns.SRV); ok {
			out = append(out, s)
		}
	}
	return out
}
