package ddns

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WritePlan prints plan results as text: per scheme the decision and its
// reason, the provider's value, and each server's single check.
func WritePlan(w io.Writer, results []PlanResult) {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		target := "(no change)"
		if r.Decision.Action == ActionPoint {
			target = fmt.Sprintf("%s (%s)", r.Decision.Address, r.Decision.Server)
		}
		fmt.Fprintf(w, "%s: %s %s → %s [%s]\n", r.Scheme, r.Name, r.Type, target, r.Decision.Action)
		fmt.Fprintf(w, "  why: %s\n", r.Decision.Reason)
		cur := valuesText(r.Current, "unknown: ", r.CurrentError, "(no record)")
		would := yesNo(r.WouldPush)
		if r.CurrentError != "" {
			would = "unknown" // neither: what the provider has is not known
		}
		fmt.Fprintf(w, "  %s has: %s; would push: %s\n", r.Provider, cur, would)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range r.Servers {
			state := s.State
			if s.Maintenance {
				state += " (maintenance)"
			}
			fmt.Fprintf(tw, "  %s\t%s\tprio %d\t%s\t%.1fms\t%s\n", s.Name, s.Address, s.Priority, state, s.LatencyMS, s.Reason)
		}
		tw.Flush()
		writePlanWitness(w, r.Witness)
	}
}

// WritePropagation prints a propagation report as a table.
func WritePropagation(w io.Writer, r *PropagationReport) {
	exp := valuesText(r.Expected, "unknown: ", r.ExpectedError, "")
	fmt.Fprintf(w, "%s %s (zone %s): provider has %s\n", r.Name, r.Type, r.Zone, exp)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSERVER\tADDRESS\tANSWER\tAGREES")
	for _, a := range r.Answers {
		ans := valuesText(a.Values, "error: ", a.Error, "(none)")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Kind, a.Server, a.Addr, ans, yesNo(a.Agrees))
	}
	tw.Flush()
	if r.AllAgree {
		fmt.Fprintln(w, "all agree")
	} else {
		fmt.Fprintln(w, "NOT all agree")
	}
}

// valuesText is values joined with commas; errPrefix+errText when the
// values could not be read, empty when there are none.
func valuesText(values []string, errPrefix, errText, empty string) string {
	switch {
	case errText != "":
		return errPrefix + errText
	case len(values) == 0:
		return empty
	}
	return strings.Join(values, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
