package lab

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Row is one fault injected (or one step of a scenario) and the promise
// checked after it.
type Row struct {
	Scheme  string
	Fault   string
	Promise string
	Limit   time.Duration // 0: no time limit, only the outcome counts
	Took    time.Duration // measured; 0 when not timed
	Kept    bool
	Note    string // what was seen when the promise was broken, or a detail
}

// Table collects rows from every case (cases run in parallel).
type Table struct {
	mu   sync.Mutex
	rows []Row
}

// Add records a row.
func (tb *Table) Add(r Row) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.rows = append(tb.rows, r)
}

// Rows returns the rows sorted by scheme, in the order they were added.
func (tb *Table) Rows() []Row {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []Row
	for _, s := range []string{"voter", "ddns", "gateway", "schedsync"} {
		for _, r := range tb.rows {
			if r.Scheme == s {
				out = append(out, r)
			}
		}
	}
	return out
}

// Broken counts the rows whose promise was not kept.
func (tb *Table) Broken() int {
	n := 0
	for _, r := range tb.Rows() {
		if !r.Kept {
			n++
		}
	}
	return n
}

// Markdown renders the table (GitHub markdown, also readable as text).
func (tb *Table) Markdown() string {
	var b strings.Builder
	b.WriteString("| scheme | fault injected | promise | limit | measured | kept |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range tb.Rows() {
		kept := "yes"
		if !r.Kept {
			kept = "**NO**"
		}
		promise := r.Promise
		if r.Note != "" {
			promise += " (" + r.Note + ")"
		}
		took := dur(r.Took)
		if r.Limit > 0 {
			took = fmt.Sprintf("%.2fs", r.Took.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Scheme, r.Fault, promise, dur(r.Limit), took, kept)
	}
	return b.String()
}

func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// TestTable needs no root: the table marks a broken promise and counts it.
func TestTable(t *testing.T) {
	tb := &Table{}
	tb.Add(Row{Scheme: "schedsync", Fault: "cut", Promise: "no write lost", Kept: true})
	tb.Add(Row{Scheme: "voter", Fault: "cut", Promise: "serves", Limit: 2500 * time.Millisecond, Took: 2600 * time.Millisecond, Note: "still proxying"})
	md := tb.Markdown()
	want := "| voter | cut | serves (still proxying) | 2.50s | 2.60s | **NO** |\n| schedsync | cut | no write lost | - | - | yes |\n"
	if !strings.HasSuffix(md, want) {
		t.Errorf("table:\n%s\nwant it to end with:\n%s", md, want)
	}
	if tb.Broken() != 1 {
		t.Errorf("Broken() = %d, want 1", tb.Broken())
	}
}
