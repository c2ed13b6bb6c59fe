package ddns

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/testutil"
)

func TestPlanUsesStateAndDoesNotPush(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, false), newPage(t, true)
	c := catConfig(t, main, backup, sorry)
	st, err := openState(c.StateDir, "cat")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.setMaintenance("main", true, false); err != nil {
		t.Fatal(err)
	}
	p := &memProvider{value: []string{"192.0.2.1"}}
	res, err := Plan(context.Background(), map[string]*Config{"cat": c},
		PlanOptions{Provider: func(string, *Config) (dnsupdate.Provider, error) { return p, nil }})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Decision.Server != "sorry" || !r.WouldPush || !strings.Contains(r.Decision.Reason, "main in maintenance") {
		t.Errorf("plan: %+v", r)
	}
	if r.Servers[1].State != "ERR" || !r.Servers[0].Maintenance {
		t.Errorf("servers: %+v", r.Servers)
	}
	if len(p.pushes()) != 0 {
		t.Errorf("plan pushed %v", p.pushes())
	}
	var b strings.Builder
	WritePlan(&b, res)
	if !strings.Contains(b.String(), "cat: cat.example.test A → 192.0.2.3 (sorry) [point]") || !strings.Contains(b.String(), "OK (maintenance)") {
		t.Errorf("text:\n%s", b.String())
	}
}

// TestPlanWithoutProvider: a plan that skips the provider says its value
// was not read, not that there is no record, nor whether it would push.
func TestPlanWithoutProvider(t *testing.T) {
	pg := newPage(t, true)
	res, err := Plan(context.Background(), map[string]*Config{"cat": catConfig(t, pg, pg, pg)}, PlanOptions{SkipProvider: true})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	WritePlan(&b, res)
	if !strings.Contains(b.String(), "he has: unknown: not read; would push: unknown") {
		t.Errorf("text:\n%s", b.String())
	}
	// --json prints [] for an empty list, never null
	if nils := testutil.NilLists(res); len(nils) > 0 {
		t.Errorf("lists that --json prints as null: %v", nils)
	}
}

// failingGet is a provider whose reads fail.
type failingGet struct{ memProvider }

func (*failingGet) Get(context.Context, string, string) ([]string, error) {
	return nil, errors.New("connection refused")
}

// TestPlanProviderUnreadable: when the provider cannot be read the plan
// does not claim it would push (the daemon would read again first, and
// push only if the value differs): would_push is false and the text says
// unknown.
func TestPlanProviderUnreadable(t *testing.T) {
	pg := newPage(t, true)
	res, err := Plan(context.Background(), map[string]*Config{"cat": catConfig(t, pg, pg, pg)}, PlanOptions{
		Provider: func(string, *Config) (dnsupdate.Provider, error) { return &failingGet{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.WouldPush || r.CurrentError == "" {
		t.Errorf("plan: would_push %v, current_error %q; want false and the read's error", r.WouldPush, r.CurrentError)
	}
	var b strings.Builder
	WritePlan(&b, res)
	if !strings.Contains(b.String(), "has: unknown: connection refused; would push: unknown") {
		t.Errorf("text:\n%s", b.String())
	}
}
