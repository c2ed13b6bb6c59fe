package ddns

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// runWitness starts a witness named name on cl until the test ends.
func runWitness(t *testing.T, cl *etcdtest.Cluster, name string) *witness.Witness {
	t.Helper()
	w, err := witness.New(witness.Config{Endpoints: cl.Endpoints(), Name: name, TTL: config.Duration(witnessTTL)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(context.Background()) }()
	t.Cleanup(func() { w.Close(); <-done })
	return w
}

// TestPlanListsUnparsableViews: a value in the deciders' topic that is not
// a view is listed by `ddns plan` with its key and the parse error; it was
// dropped silently.
func TestPlanListsUnparsableViews(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	junk := runWitness(t, cl, "junk")
	if err := junk.Publish(lockName("cat"), "{not a view"); err != nil {
		t.Fatal(err)
	}
	plan := runWitness(t, cl, "plan")
	testutil.Eventually(t, 10*time.Second, "the junk value published", func() bool {
		vals, err := plan.Values(context.Background(), lockName("cat"))
		return err == nil && len(vals) == 1
	})
	c := catConfig(t, newPage(t, true), newPage(t, true), newPage(t, true))
	c.Witness = true
	res, err := Plan(context.Background(), map[string]*Config{"cat": c}, PlanOptions{SkipProvider: true, Witness: plan})
	if err != nil {
		t.Fatal(err)
	}
	pw := res[0].Witness
	if pw == nil || len(pw.Deciders) != 0 || len(pw.Unparsable) != 1 {
		t.Fatalf("plan's witness part: %+v", pw)
	}
	u := pw.Unparsable[0]
	if u.Node != "junk" || !strings.HasSuffix(u.Key, "/junk") || !strings.Contains(u.Key, lockName("cat")) || u.Error == "" {
		t.Fatalf("unparsable entry %+v", u)
	}
	var out strings.Builder
	WritePlan(&out, res)
	if want := "junk: unparsable view (left out), key \"" + u.Key + "\": " + u.Error; !strings.Contains(out.String(), want) {
		t.Fatalf("plan output lacks %q:\n%s", want, out.String())
	}
}
