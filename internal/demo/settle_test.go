package demo

import (
	"strings"
	"testing"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
)

// The final table waits while some instance is on its way somewhere (the
// gateway backup's "Full sync needed" after the failback made the table,
// and docs/status.md's sample, depend on the moment).
func TestAnyPassing(t *testing.T) {
	for _, tc := range []struct {
		states []string
		want   bool
	}{
		{[]string{"Synced", "serving", "proxying"}, false},
		{[]string{"Synced", "Full sync needed"}, true},
		{[]string{"Syncing"}, true},
		{[]string{"Pushing", "Synced"}, true},
		{[]string{"Unavailable"}, false},
		{nil, false},
	} {
		var docs []status.Document
		for _, s := range tc.states {
			docs = append(docs, status.Document{State: s})
		}
		name := strings.Join(tc.states, ",")
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			res := []adminapi.Result{{Endpoint: "x:1", Report: status.Report{Instances: docs}}}
			if got := anyPassing(res); got != tc.want {
				t.Errorf("anyPassing(%v) = %v, want %v", tc.states, got, tc.want)
			}
		})
	}
}
