package ddns

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/witness"
)

// PlanServer is one server's single check result in a plan.
type PlanServer struct {
	Name        string  `json:"name"`
	Address     string  `json:"address"`
	Priority    int     `json:"priority"`
	State       string  `json:"state"`
	Maintenance bool    `json:"maintenance"`
	Reason      string  `json:"reason,omitempty"`
	LatencyMS   float64 `json:"latency_ms"`
}

// PlanResult is what one scheme would do now.
type PlanResult struct {
	Scheme       string       `json:"scheme"`
	Name         string       `json:"name"`
	Type         string       `json:"type"`
	Provider     string       `json:"provider"`
	Decision     Decision     `json:"decision"`
	Current      []string     `json:"current"`
	CurrentError string       `json:"current_error,omitempty"`
	WouldPush    bool         `json:"would_push"` // false also when unknown: CurrentError set
	Servers      []PlanServer `json:"servers"`
	Witness      *PlanWitness `json:"witness,omitempty"` // witness = true, read when PlanOptions.Witness is set
}

// PlanOptions tune Plan.
type PlanOptions struct {
	SkipProvider bool // do not read the provider's current value
	Provider     func(scheme string, cfg *Config) (dnsupdate.Provider, error)
	// Witness, running, is read for the leader and the deciders' views of
	// schemes with witness = true.
	Witness *witness.Witness
}

// Plan runs every check of every scheme once (a single result decides,
// without rise/fall), applies maintenance from the config and the state
// files, decides, and reads the provider's value. Nothing is pushed.
func Plan(ctx context.Context, cfgs map[string]*Config, o PlanOptions) ([]PlanResult, error) {
	if o.Provider == nil {
		o.Provider = func(_ string, c *Config) (dnsupdate.Provider, error) { return dnsupdate.New(c.Provider) }
	}
	names := slices.Sorted(maps.Keys(cfgs))
	out := make([]PlanResult, len(names))
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := planScheme(ctx, n, cfgs[n], o, sem)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			out[i] = r
		}()
	}
	wg.Wait()
	return out, firstErr
}

func planScheme(ctx context.Context, name string, c *Config, o PlanOptions, sem chan struct{}) (PlanResult, error) {
	c = withDefaults(c)
	r := PlanResult{Scheme: name, Name: c.Name, Type: c.RecordType(), Provider: c.Provider.Kind,
		Current: []string{}, Servers: []PlanServer{}}
	st, err := openState(c.StateDir, name)
	if err != nil {
		return r, err
	}
	cands, servers, err := checkOnce(ctx, c, st, sem)
	if err != nil {
		return r, err
	}
	r.Servers = servers
	r.Decision = Decide(cands, c.PolicyName(), c.Sorry)
	if c.Witness && o.Witness != nil {
		r.Witness = planWitness(ctx, o.Witness, name, c, cands)
	}
	if o.SkipProvider {
		r.CurrentError = "not read" // not "(no record)": nobody asked
		return r, nil
	}
	p, err := o.Provider(name, c)
	if err != nil {
		return r, err
	}
	if r.Current, err = p.Get(ctx, c.Name, c.RecordType()); r.Current == nil {
		r.Current = []string{}
	}
	if err != nil {
		r.CurrentError = err.Error()
		return r, nil // WouldPush false: unknown (the text says so), as the daemon would read again first
	}
	r.WouldPush = r.Decision.Action == ActionPoint && !dnsupdate.Matches(c.RecordType(), r.Current, r.Decision.Address)
	return r, nil
}

// checkOnce runs every server's check once, concurrently (bounded by sem).
func checkOnce(ctx context.Context, c *Config, st *stateFile, sem chan struct{}) ([]Candidate, []PlanServer, error) {
	cands := make([]Candidate, len(c.Servers))
	out := make([]PlanServer, len(c.Servers))
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, srv := range c.Servers {
		chk, err := checker(srv)
		if err != nil {
			return nil, nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			res := chk.Check(ctx)
			if c, ok := chk.(interface{ CloseIdle() }); ok {
				c.CloseIdle() // a keepalive check's connection
			}
			<-sem
			state := health.Err
			if res.OK {
				state = health.OK
			}
			m := st.maintenance(srv.Name, srv.Maintenance)
			cands[i] = Candidate{Name: srv.Name, Address: srv.Address, Priority: srv.Priority, State: state, Maintenance: m, Reason: res.Reason}
			out[i] = PlanServer{Name: srv.Name, Address: srv.Address, Priority: srv.Priority, State: state.String(),
				Maintenance: m, Reason: res.Reason, LatencyMS: float64(res.Latency.Microseconds()) / 1000}
		}()
	}
	wg.Wait()
	return cands, out, nil
}
