package schedsync

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"
)

// maxFetchTries bounds the attempts at a file whose content does not
// match the primary's manifest entry (or that the primary could not
// send): after that many with the same entry, the secondary stops and
// reports Not synced naming the file, until the primary sends something
// else for it or the operator resyncs.
const maxFetchTries = 5

// failure is why one path of a batch was not installed. local: this
// node's fault (a full disk, a permission); else the content did not
// match the manifest or the primary could not send it, which the primary
// usually fixes by publishing a newer entry.
type failure struct {
	why   string
	local bool
}

// failedFile is a path the secondary could not install, kept until it
// succeeds or the primary sends something else for it.
type failedFile struct {
	e     Entry
	why   string
	local bool
	tries int       // attempts with this very entry
	next  time.Time // next attempt; zero once tries are exhausted
}

// given up reports whether the file is no longer retried.
func (f *failedFile) givenUp() bool { return !f.local && f.tries >= maxFetchTries }

// noteFailures updates the failed set (n.mu held) after targets were
// applied: what succeeded is dropped, what failed recorded with its next
// attempt. full drops every failure not among targets. After a batch
// that failed as a whole (!whole), only the failures are recorded: the
// other targets were perhaps never tried.
func (n *Node) noteFailuresLocked(targets []Entry, probs map[string]failure, full, whole bool) {
	now := time.Now()
	if full && whole {
		in := make(map[string]bool, len(targets))
		for _, t := range targets {
			in[t.Path] = true
		}
		for p := range n.failed {
			if !in[p] {
				delete(n.failed, p)
			}
		}
	}
	for _, t := range targets {
		pr, bad := probs[t.Path]
		if !bad {
			if whole {
				delete(n.failed, t.Path)
			}
			continue
		}
		f := n.failed[t.Path]
		if f == nil || !f.e.same(t) || f.local != pr.local {
			f = &failedFile{e: t}
		}
		f.why, f.local = pr.why, pr.local
		f.tries++
		switch {
		case f.local:
			f.next = now.Add(min(time.Second<<min(f.tries-1, 5), 30*time.Second))
		case f.givenUp():
			f.next = time.Time{}
			f.why = fmt.Sprintf("%s (gave up after %d tries)", pr.why, f.tries)
		default:
			f.next = now.Add(250 * time.Millisecond << (f.tries - 1))
		}
		n.failed[t.Path] = f
	}
}

// dueFailed returns the failed files whose next attempt has come, and how
// long until the next one that has not (0: none pending).
func (n *Node) dueFailed() ([]Entry, time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	var due []Entry
	var wait time.Duration
	for _, f := range n.failed {
		switch {
		case f.next.IsZero():
		case !f.next.After(now):
			due = append(due, f.e)
		case wait == 0 || f.next.Sub(now) < wait:
			wait = f.next.Sub(now)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].Path < due[j].Path })
	return due, wait
}

// failedSummary describes the failed files (n.mu held): hard failures
// (local errors, and files given up on) make the node Not synced; files
// still being fetched again keep it Syncing.
func (n *Node) failedSummaryLocked() (hard, retrying []string) {
	for p, f := range n.failed {
		if f.local || f.givenUp() {
			hard = append(hard, p+": "+f.why)
		} else {
			retrying = append(retrying, p)
		}
	}
	sort.Strings(hard)
	sort.Strings(retrying)
	return hard, retrying
}

// localWhy describes a local error without the temporary file's name
// (which tells the operator nothing): "write: file too large".
func localWhy(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// failedListLocked lists every failed file with why, for the status.
func (n *Node) failedListLocked() []string {
	out := make([]string, 0, len(n.failed))
	for p, f := range n.failed {
		why := f.why
		if !f.local && !f.givenUp() {
			why += fmt.Sprintf(" (try %d of %d)", f.tries, maxFetchTries)
		}
		out = append(out, p+": "+why)
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}
