package schedsync

import "testing"

// TestNoteFailures: the bookkeeping of files that could not be installed.
func TestNoteFailures(t *testing.T) {
	n := &Node{failed: map[string]*failedFile{}}
	a1 := Entry{Path: "a", Kind: KindFile, Size: 1, Hash: [32]byte{1}}
	a2 := Entry{Path: "a", Kind: KindFile, Size: 1, Hash: [32]byte{2}}
	b := Entry{Path: "b", Kind: KindFile, Size: 2}
	mismatch := map[string]failure{"a": {why: "content does not match"}}
	for i := 1; i < maxFetchTries; i++ {
		n.noteFailuresLocked([]Entry{a1, b}, mismatch, false, true)
		if f := n.failed["a"]; f == nil || f.tries != i || f.givenUp() || f.next.IsZero() {
			t.Fatalf("try %d: %+v", i, f)
		}
	}
	n.noteFailuresLocked([]Entry{a1}, mismatch, false, true)
	if f := n.failed["a"]; !f.givenUp() || !f.next.IsZero() {
		t.Fatalf("after %d tries with one entry: %+v", maxFetchTries, f)
	}
	if due, _ := n.dueFailed(); len(due) != 0 {
		t.Fatalf("a file given up on is due: %v", due)
	}
	if hard, _ := n.failedSummaryLocked(); len(hard) != 1 {
		t.Fatalf("given up is a hard failure: %v", hard)
	}
	n.noteFailuresLocked([]Entry{a2}, mismatch, false, true) // a new entry: counted afresh
	if f := n.failed["a"]; f.tries != 1 || f.givenUp() {
		t.Fatalf("a new entry: %+v", f)
	}
	n.noteFailuresLocked([]Entry{b}, map[string]failure{"b": {why: "write: no space left on device", local: true}}, false, true)
	if hard, retrying := n.failedSummaryLocked(); len(hard) != 1 || len(retrying) != 1 {
		t.Fatalf("hard %v retrying %v", hard, retrying)
	}
	n.noteFailuresLocked([]Entry{a2, b}, nil, false, false) // the batch failed as a whole: nothing cleared
	if len(n.failed) != 2 {
		t.Fatalf("a failed batch cleared failures: %v", n.failed)
	}
	n.noteFailuresLocked([]Entry{a2}, nil, false, true) // installed
	if _, ok := n.failed["a"]; ok || len(n.failed) != 1 {
		t.Fatalf("installed file still failed: %v", n.failed)
	}
	n.noteFailuresLocked([]Entry{a2}, nil, true, true) // a full comparison without b: b is gone from the primary
	if len(n.failed) != 0 {
		t.Fatalf("full comparison kept %v", n.failed)
	}
}
