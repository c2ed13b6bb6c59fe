package replica

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Requester sends a request to the leader and returns its answer; a
// *peer.Node is one.
type Requester interface {
	Request(ctx context.Context, typ byte, body []byte) ([]byte, error)
}

// Follow tuning.
const (
	pullWait  = time.Second // how long the leader may hold a pull
	pageBytes = 1 << 20     // snapshot page size
)

// Follow pulls provider p from the leader behind req (requests of frame
// type typ, answered there by Serve) until ctx ends or a request fails;
// the caller runs it again once the link is back.
func (s *Store) Follow(ctx context.Context, p string, req Requester, typ byte) (err error) {
	st := s.statsFor(p)
	st.followRun(true, nil)
	defer func() {
		if ctx.Err() != nil {
			st.followRun(false, nil) // stopped, not failed
			return
		}
		st.followRun(false, err)
	}()
	// the first pull of a run also fetches the entry this node applied
	// last, to check that the leader still holds it (verifyBack)
	verify := true
	for ctx.Err() == nil {
		if why, gen, operator := st.takeForced(); why != "" {
			if err := s.fullSync(ctx, p, req, typ, why, gen, operator); err != nil {
				return err
			}
			continue
		}
		resp, from, err := s.pullOnce(ctx, p, req, typ, verify)
		if err != nil {
			return err
		}
		verify = false
		if resp.Full {
			st.force(resp.Reason, false)
			continue
		}
		if err := s.applyEntries(p, from, resp); err != nil {
			return err
		}
		st.pullDone(from.Applied+uint64(len(resp.Entries)) == resp.Last)
	}
	return ctx.Err()
}

// pullOnce asks for the entries after this node's position, which it
// returns with the answer.
// With verify it asks from one entry earlier, the last one this node
// applied, and checks it against the sum it recorded (verifyBack).
func (s *Store) pullOnce(ctx context.Context, p string, req Requester, typ byte, verify bool) (pullResp, Position, error) {
	pos, sum, err := s.followPosition(p)
	if err != nil {
		return pullResp{}, pos, err
	}
	back := uint64(0)
	if verify && pos.Applied > 0 && sum != 0 {
		back = 1
	}
	st := s.statsFor(p)
	start := time.Now()
	body, err := req.Request(ctx, typ, pullReq{Provider: p, LogID: pos.SrcLogID, Applied: pos.Applied - back,
		Max: maxPullEntries, WaitMS: uint64(pullWait / time.Millisecond)}.encode())
	if err != nil {
		return pullResp{}, pos, fmt.Errorf("replica: pull %s: %w", p, err)
	}
	resp, err := decodePullResp(body)
	if err != nil {
		return pullResp{}, pos, err
	}
	if back == 1 && !resp.Full {
		resp = verifyBack(pos, sum, resp)
	}
	st.mu.Lock()
	st.lastPull, st.lastPullDur = start, time.Since(start)
	st.pending = resp.Last - min(resp.Last, pos.Applied+uint64(len(resp.Entries)))
	st.mu.Unlock()
	return resp, pos, nil
}

// verifyBack checks the answer to a pull made from one entry before pos:
// its first entry must be the one this node applied last (sum). When it
// is, it is dropped and the answer continues from pos; when it is not (or
// the leader's log now ends before it), the leader's history under the
// same log id is no longer the one this node copied (its store was
// restored from a backup or rolled back to a VM snapshot, then written
// again): the answer asks for a full sync. Without the check the follower
// went on from its own position, mixing the two histories, and showed in
// sync.
func verifyBack(pos Position, sum uint64, r pullResp) pullResp {
	full := func(why string) pullResp {
		return pullResp{LogID: r.LogID, First: r.First, Last: r.Last, Full: true, Reason: why}
	}
	switch {
	case r.Last < pos.Applied || len(r.Entries) == 0 || r.Entries[0].Seq != pos.Applied:
		return full(fmt.Sprintf("the leader's log %s ends at seq %d, before the entry %d this node applied from it "+
			"(its store was restored or rolled back?)", r.LogID, r.Last, pos.Applied))
	case entrySum(r.Entries[0]) != sum:
		return full(fmt.Sprintf("the leader's entry %d of log %s is not the one this node applied "+
			"(its store was restored or rolled back, then written again?)", pos.Applied, r.LogID))
	}
	r.Entries = r.Entries[1:]
	return r
}

// entrySum identifies an entry: FNV-64a of its encoding (never 0, which
// means no sum recorded).
func entrySum(x Entry) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(appendEntry(nil, x))
	return max(h.Sum64(), 1)
}

// followPosition is Position with the sum of the entry applied last (0
// when none is recorded: after a snapshot, or a store of an older version).
func (s *Store) followPosition(p string) (Position, uint64, error) {
	if ov, ok := s.ov[p]; ok {
		ov.mu.Lock()
		defer ov.mu.Unlock()
	}
	var pos Position
	var sum uint64
	err := s.view("a read", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		pos, sum = readPosition(b.meta), u64(b.meta.Get(keyAppliedSum))
		return nil
	})
	return pos, sum, err
}

// checkPull refuses an answer that is not the continuation of the log the
// follower at pos follows: another log's entries, or a position the
// entries contradict, would be applied under the old log's name, and the
// follower would show in sync with a log whose contents it does not hold.
func checkPull(p string, pos Position, r pullResp) error {
	switch {
	case r.LogID != pos.SrcLogID:
		return fmt.Errorf("replica: %s: the leader answered from log %q, this node follows %q", p, r.LogID, pos.SrcLogID)
	case r.Last < pos.Applied:
		return fmt.Errorf("replica: %s: the leader's log ends at seq %d, before this node's %d", p, r.Last, pos.Applied)
	case len(r.Entries) > 0 && r.Entries[len(r.Entries)-1].Seq > r.Last:
		return fmt.Errorf("replica: %s: the leader sent seq %d beyond its log's end %d", p, r.Entries[len(r.Entries)-1].Seq, r.Last)
	}
	return nil
}

// applyEntries commits one pulled batch, answered to a pull from pos, to
// the inbox in one transaction; the checkpointer copies it into the data
// (Get and List see it at once).
func (s *Store) applyEntries(p string, pos Position, resp pullResp) error {
	if err := checkPull(p, pos, resp); err != nil {
		return err
	}
	if len(resp.Entries) == 0 {
		return nil
	}
	start := time.Now()
	// readers (Get, List, Position) wait for this commit rather than see
	// the new position without its changes, or changes not yet durable
	ov := s.ov[p]
	ov.mu.Lock()
	err := s.update("a pulled batch", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		if src := string(b.meta.Get(keySrc)); src != resp.LogID {
			return fmt.Errorf("replica: %s: this node now follows log %q, not %q", p, src, resp.LogID)
		}
		next := u64(b.meta.Get(keyApplied)) + 1
		for _, x := range resp.Entries {
			if x.Seq != next {
				return fmt.Errorf("replica: %s: gap in log: got seq %d, want %d", p, x.Seq, next)
			}
			next++
		}
		b.inbox.FillPercent = 1 // keys only ever grow: pack the pages
		var buf []byte
		for _, x := range resp.Entries {
			k := be(x.Seq)
			buf = sealOwn(k, appendEntry(buf[len(buf):], x))
			if err := b.inbox.Put(k, buf); err != nil {
				return err
			}
		}
		if err := b.meta.Put(keyAppliedSum, be(entrySum(resp.Entries[len(resp.Entries)-1]))); err != nil {
			return err
		}
		return b.meta.Put(keyApplied, be(next-1))
	})
	pending := 0
	if err == nil {
		pending = ov.addLocked(streamInbox, resp.Entries)
	}
	ov.mu.Unlock()
	if err != nil {
		return err
	}
	if pending >= checkpointEntries {
		s.kick()
	}
	if s.opts.OnApply != nil {
		s.opts.OnApply(p, resp.Entries)
	}
	st := s.statsFor(p)
	st.dispatched.add(len(resp.Entries))
	last := resp.Entries[len(resp.Entries)-1]
	st.mu.Lock()
	st.lastApplyDur = time.Since(start)
	st.lagMS = float64(time.Now().UnixNano()-last.Time) / 1e6
	st.mu.Unlock()
	s.wake(p)
	return nil
}

// lastPerKey returns the newest entry of each key, in key order (applying
// them in key order keeps bbolt's B+tree work local).
func lastPerKey(es []Entry) []Entry {
	last := make(map[string]int, len(es))
	for i, x := range es {
		last[x.Key] = i
	}
	out := make([]Entry, 0, len(last))
	for _, i := range last {
		out = append(out, es[i])
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// ForceFullSync makes the follower of p copy a full snapshot on its next
// round, recording reason. A provider not named in Options is refused.
func (s *Store) ForceFullSync(p, reason string) error {
	if _, ok := s.ov[p]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownProvider, p)
	}
	s.statsFor(p).force(reason, true)
	return nil
}

// force asks for a full sync; operator says a person asked for it (not
// the leader's answer), which lifts Options.KeepOnEmpty until it is done.
func (p *provStats) force(reason string, operator bool) {
	p.mu.Lock()
	p.fullSyncNeeded, p.fullSyncReason = true, reason
	p.forceOperator = p.forceOperator || operator
	p.forceGen++
	p.mu.Unlock()
}

// takeForced returns the pending full-sync reason ("" when none), the
// generation of that request and whether an operator asked for it.
func (p *provStats) takeForced() (string, uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.fullSyncNeeded {
		return "", p.forceGen, false
	}
	return p.fullSyncReason, p.forceGen, p.forceOperator
}

// completeForced clears the pending request if it is still the one of
// generation gen.
func (p *provStats) completeForced(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.forceGen == gen {
		p.fullSyncNeeded, p.fullSyncReason, p.forceOperator = false, "", false
	}
}

// fullSync copies the leader's data into a staging bucket page by page and
// swaps it in once complete.
// gen is the force generation it answers: a request made while it ran
// (after gen) stays pending and causes another full sync. Unless operator
// asked for it, an empty copy does not replace documents of a provider
// named in Options.KeepOnEmpty (ErrEmptyCopy).
func (s *Store) fullSync(ctx context.Context, p string, req Requester, typ byte, why string, gen uint64, operator bool) error {
	st := s.statsFor(p)
	st.mu.Lock()
	refused := st.refusedEmpty
	st.mu.Unlock()
	if refused == "" { // a sync that keeps being refused was recorded once
		s.record(p, "full_sync_needed", why)
	}
	start := time.Now()
	stage, err := s.newStage(p)
	if err != nil {
		return err
	}
	var logID, after string
	var seq, keys, size uint64
	for page := 0; ; page++ {
		body, err := req.Request(ctx, typ, snapReq{Provider: p, After: after, MaxBytes: pageBytes}.encode())
		if err != nil {
			return fmt.Errorf("replica: snapshot %s: %w", p, err)
		}
		r, err := decodeSnapResp(body)
		if err != nil {
			return err
		}
		if page == 0 {
			logID, seq = r.LogID, r.Seq
		} else if r.LogID != logID {
			return fmt.Errorf("replica: snapshot %s: the leader's log changed during the copy", p)
		}
		if err := checkPage(after, r); err != nil {
			return fmt.Errorf("replica: snapshot %s page %d: %w", p, page, err)
		}
		if err := s.writeStage(stage, r); err != nil {
			return err
		}
		keys += uint64(len(r.Keys))
		for i := range r.Keys {
			size += uint64(len(r.Keys[i]) + len(r.Vals[i]))
		}
		if r.Done || len(r.Keys) == 0 {
			break
		}
		after = r.Keys[len(r.Keys)-1]
	}
	if keys == 0 && !operator && slices.Contains(s.opts.KeepOnEmpty, p) {
		has, err := s.holds1(p)
		if err != nil {
			return err
		}
		if has {
			return s.refuseEmpty(p, logID)
		}
	}
	if err := s.swapStage(p, stage, logID, seq, keys); err != nil {
		return err
	}
	st.completeForced(gen)
	st.mu.Lock()
	st.refusedEmpty = ""
	st.fullSyncs++
	st.lastApplyDur = time.Since(start)
	st.mu.Unlock()
	s.record(p, "full_sync_done", fmt.Sprintf("copied %d documents (%d bytes) at seq %d in %v",
		keys, size, seq, time.Since(start).Round(time.Millisecond)))
	s.wake(p)
	return nil
}

// checkPage refuses a snapshot page that does not continue the copy after
// key after: its keys must come after it in strictly increasing order (so
// that every page makes progress: a page sent again would have the
// follower ask for ever), and each value must be in the stored form, a
// version of 8 bytes first (a shorter one would read as no document).
func checkPage(after string, r snapResp) error {
	prev := after
	for i, k := range r.Keys {
		if (i > 0 || after != "") && k <= prev {
			return fmt.Errorf("key %q is not after %q", k, prev)
		}
		if len(r.Vals[i]) < 8 {
			return fmt.Errorf("the value of %q has no version (%d bytes)", k, len(r.Vals[i]))
		}
		prev = k
	}
	return nil
}

// ErrEmptyCopy is a full sync refused because it would replace the
// documents of a provider named in Options.KeepOnEmpty with none.
var ErrEmptyCopy = errors.New("replica: empty copy refused")

// holds1 says whether provider p holds at least one document.
func (s *Store) holds1(p string) (bool, error) {
	var has bool
	err := s.view("a read", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		k, _ := b.data.Cursor().First()
		has = k != nil
		return nil
	})
	return has || s.ov[p].size() > 0, err
}

// refuseEmpty refuses the empty copy of logID (KeepOnEmpty), recording an
// event the first time: the follower tries again and again.
func (s *Store) refuseEmpty(p, logID string) error {
	err := fmt.Errorf("%w: the leader's %s (log %s) is empty and this node's is not: kept "+
		"(a leader whose data was lost or rebuilt?); restore the leader's documents, or force a full sync to take the empty copy",
		ErrEmptyCopy, p, logID)
	st := s.statsFor(p)
	st.mu.Lock()
	again := st.refusedEmpty == logID
	st.refusedEmpty = logID
	st.mu.Unlock()
	if !again {
		s.record(p, "full_sync_refused", err.Error())
	}
	return err
}

// newStage (re)creates the data bucket that is not live.
func (s *Store) newStage(p string) ([]byte, error) {
	var name []byte
	err := s.update("a snapshot copy", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		name = bucketName(p, "data0")
		if string(b.meta.Get(keyData)) == "data0" {
			name = bucketName(p, "data1")
		}
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		_, err = tx.CreateBucket(name)
		return err
	})
	return name, err
}

func (s *Store) writeStage(stage []byte, r snapResp) error {
	return s.update("a snapshot copy", func(tx *bolt.Tx) error {
		b := tx.Bucket(stage)
		b.FillPercent = 0.9
		for i, k := range r.Keys {
			if err := b.Put([]byte(k), Seal([]byte(k), r.Vals[i])); err != nil {
				return err
			}
		}
		return nil
	})
}

// swapStage makes stage the live data, positioned at (logID, seq). What
// this node had pending is dropped with the data it replaces.
func (s *Store) swapStage(p string, stage []byte, logID string, seq, docs uint64) error {
	var upto [2]uint64
	err := s.update("a snapshot copy", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		old := dataName(p, b.meta)
		name := stage[len(bucketName(p, "")):]
		if err := b.meta.Put(keyData, name); err != nil {
			return err
		}
		if err := tx.DeleteBucket(old); err != nil {
			return err
		}
		if err := b.meta.Put(keySrc, []byte(logID)); err != nil {
			return err
		}
		if err := b.meta.Delete(keyAppliedSum); err != nil { // the copy's entry is not known
			return err
		}
		upto = [2]uint64{u64(b.meta.Get(keyLast)), seq}
		for k, v := range map[string]uint64{string(keyApplied): seq, string(keyInboxData): seq, string(keyLogData): upto[streamLog],
			string(keyDocCount): docs} {
			if err := b.meta.Put([]byte(k), be(v)); err != nil {
				return err
			}
		}
		return emptyInbox(tx, p)
	})
	if err == nil {
		s.ov[p].reset(upto)
		s.mended(p)
	}
	return err
}
