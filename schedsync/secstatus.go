package schedsync

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// failLogEvery bounds how often the same sync failure is logged again.
const failLogEvery = time.Minute

// syncFailure is the sync loop's current run of failed attempts: what
// failed last, since when, and whether the node reports it. Node.failLog
// says when it is logged (a new error at once, the same one once per
// failLogEvery).
type syncFailure struct {
	msg   string
	first time.Time // start of the first failed attempt of the run
	count int
	shown bool // the status says Not synced because of it
}

// afterSync works out Synced, Syncing or Not synced from what the
// secondary knows: its guard, a failing sync loop, files it could not
// install, refused symlinks, local edits, files being fetched again.
func (n *Node) afterSync() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.metrics.files.Set(float64(n.app.size()))
	n.metrics.localEdits.Set(float64(len(n.edits)))
	hard, retrying := n.failedSummaryLocked()
	switch {
	case n.guard != "":
		n.setStateLocked(StateNotSynced, n.guard)
	case n.syncFail.shown:
		n.setStateLocked(StateNotSynced, "sync failed: "+n.syncFail.msg)
	case len(hard) > 0:
		n.setStateLocked(StateNotSynced, fmt.Sprintf("%d paths could not be synced (first: %s)", len(hard), hard[0]))
	case len(n.refused) > 0:
		n.setStateLocked(StateNotSynced, refusedLinksReason(n.refused))
	case len(n.edits) > 0:
		n.setStateLocked(StateNotSynced, editsReason(n.edits))
	case len(retrying) > 0:
		n.setStateLocked(StateSyncing, fmt.Sprintf("%d files changed during the transfer, fetching them again (first: %s)",
			len(retrying), retrying[0]))
	default:
		n.setStateLocked(StateSynced, "")
		n.journalErr = "" // every file now matches the primary's, those of unfinished journals too
	}
}

// syncSucceeded ends a run of failures (a whole exchange worked) and
// works out the status again.
func (n *Node) syncSucceeded() {
	n.mu.Lock()
	f := n.syncFail
	n.syncFail = syncFailure{}
	n.failLog.Reset()
	n.mu.Unlock()
	n.noteServed()
	if f.count > 0 {
		n.log.Info("sync works again", "failures", f.count, "after", time.Since(f.first).Round(time.Millisecond).String(), "last_err", f.msg)
	}
	n.afterSync()
}

// onSyncError updates the status after a failed attempt that started at
// start; it returns true when the node promoted itself. A failure shows
// as Not synced as soon as the primary has answered anything since the
// run of failures began (the primary is there, the sync is what fails);
// a primary that answers nothing is Unavailable after peer_timeout.
func (n *Node) onSyncError(err error, start time.Time) bool {
	var re *refusedError
	if errors.As(err, &re) {
		reason := n.refusedReason(re)
		n.notePeer(re.peer, reason)
		n.setState(StateIncompatible, reason)
		return false
	}
	if why := n.notePeerError(err); why != "" {
		// the primary answered: alive, so no failover while this goes on
		n.setState(StateIncompatible, why)
		return false
	}
	msg := shortErr(err)
	n.mu.Lock()
	f := &n.syncFail
	if f.count == 0 {
		f.first = start
	}
	f.count++
	f.msg = msg
	seen, last := n.peer.seen, n.peer.last
	ff := n.failoverFactsLocked()
	gone := ff.Unheard
	switch {
	case n.mismatchLocked(): // still Incompatible: secrets differ, or another protocol
	case n.st.Name != StateConnecting && gone > n.peerTimeout():
		f.shown = false
		n.setStateLocked(StateUnavailable, "primary unreachable: "+msg)
	case seen && last.After(f.first):
		f.shown = true
		n.setStateLocked(StateNotSynced, "sync failed: "+msg)
	case n.st.Name == StateConnecting:
		n.st.Reason = msg
	}
	logIt, repeated := n.failLog.AllowKey(time.Now(), msg)
	count := f.count // read under the lock
	n.mu.Unlock()
	if logIt {
		n.log.Warn("sync failed; retrying", "err", msg, "failures", count, "repeated_since_last_log", repeated)
	}
	return n.failoverIfDue(ff)
}

// failoverIfDue promotes a secondary whose failover rule says so (see
// failover_rule.go), and reports whether it did.
func (n *Node) failoverIfDue(ff failoverFacts) bool {
	if !failoverRule(ff) {
		return false
	}
	return n.promoteIf(true, fmt.Sprintf("primary unreachable for %s (failover_offset)", ff.silent().Round(time.Second)))
}

func refusedLinksReason(refused map[string]string) string {
	paths := make([]string, 0, len(refused))
	for p := range refused {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return fmt.Sprintf("%d paths from the primary refused (first: %s)", len(refused), refused[paths[0]])
}

func editsReason(edits map[string]string) string {
	paths := make([]string, 0, len(edits))
	for p := range edits {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if len(paths) > 3 {
		paths = append(paths[:3], "...")
	}
	return fmt.Sprintf("%d local changes (%s): run resync", len(edits), strings.Join(paths, ", "))
}
