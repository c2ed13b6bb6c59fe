package replica

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxPullEntries and maxPullBytes cap one pull's batch, maxPageBytes one
// snapshot page, whatever the follower asks (either must fit a link
// frame); a batch or a page holds at least one entry or document.
const (
	maxPullEntries = 4096
	maxPullBytes   = 4 << 20
	maxPageBytes   = 4 << 20
)

// Serve answers a follower's request (pull or snapshot page); plug it into
// the link's request handler.
func (s *Store) Serve(ctx context.Context, body []byte) ([]byte, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("replica: empty request")
	}
	switch body[0] {
	case kindPull:
		r, err := decodePullReq(body)
		if err != nil {
			return nil, err
		}
		return s.servePull(ctx, r)
	case kindSnap:
		r, err := decodeSnapReq(body)
		if err != nil {
			return nil, err
		}
		resp, err := s.snapshotPage(r)
		return resp.encode(), err
	}
	return nil, fmt.Errorf("replica: unknown request kind %#x", body[0])
}

func (s *Store) servePull(ctx context.Context, r pullReq) ([]byte, error) {
	arrived := time.Now()
	s.mu.Lock()
	st := s.stats[r.Provider] // nil for a provider this store does not hold (pull fails)
	s.mu.Unlock()
	if st != nil {
		st.pulled(r, arrived)
	}
	wait := time.Duration(min(r.WaitMS, 10_000)) * time.Millisecond
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		changed := s.changed(r.Provider)
		resp, err := s.pull(r)
		if err != nil || resp.Full || len(resp.Entries) > 0 || wait == 0 {
			if err == nil && !resp.Full {
				s.release(r.Provider, r.Applied)
			}
			if err == nil && st != nil {
				st.dispatched.add(len(resp.Entries))
				st.pulled(r, arrived)
			}
			return resp.encode(), err
		}
		select {
		case <-changed:
		case <-deadline.C:
			wait = 0
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pull reads the entries after r.Applied, or says a full sync is needed.
func (s *Store) pull(r pullReq) (pullResp, error) {
	var resp pullResp
	err := s.view("a pull", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, r.Provider)
		if err != nil {
			return err
		}
		pos := readPosition(b.meta)
		resp = pullResp{LogID: pos.LogID, First: pos.First, Last: pos.Last}
		if why := fullSyncReason(r, pos); why != "" {
			resp.Full, resp.Reason = true, why
			return nil
		}
		max := min(max(r.Max, 1), maxPullEntries)
		c := b.log.Cursor()
		size := 0
		for k, v := c.Seek(be(r.Applied + 1)); k != nil && uint64(len(resp.Entries)) < max && size < maxPullBytes; k, v = c.Next() {
			size += len(v)
			x, err := s.entryOf(r.Provider, "log", k, v)
			if err != nil {
				return fmt.Errorf("replica: corrupt log entry %d: %w", u64(k), err)
			}
			// v is the database's memory, reusable once the read ends
			x.Value = bytes.Clone(x.Value)
			resp.Entries = append(resp.Entries, x)
		}
		return nil
	})
	return resp, err
}

// fullSyncReason says why a follower at r cannot continue from the log.
func fullSyncReason(r pullReq, pos Position) string {
	switch {
	case r.LogID == "":
		return "first synchronisation with this leader"
	case r.LogID != pos.LogID:
		return fmt.Sprintf("the leader's log changed (follower has log %s, leader has %s)", r.LogID, pos.LogID)
	case r.Applied > pos.Last:
		return fmt.Sprintf("follower is ahead of the leader (seq %d > %d)", r.Applied, pos.Last)
	case r.Applied < pos.Last && r.Applied+1 < pos.First:
		return fmt.Sprintf("follower is too far behind: it needs seq %d but the retained log (disk_cache) starts at %d", r.Applied+1, pos.First)
	}
	return ""
}

// snapshotPage returns the documents after r.After, up to r.MaxBytes.
func (s *Store) snapshotPage(r snapReq) (snapResp, error) {
	var resp snapResp
	err := s.view("a snapshot page", func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, r.Provider)
		if err != nil {
			return err
		}
		// the data holds the log up to log_data (the checkpointer applies
		// the rest later): the follower continues from there
		resp.LogID, resp.Seq = string(b.meta.Get(keyLogID)), u64(b.meta.Get(keyLogData))
		c := b.data.Cursor()
		k, v := c.First()
		if r.After != "" {
			k, v = c.Seek([]byte(r.After))
			if k != nil && string(k) == r.After {
				k, v = c.Next()
			}
		}
		size, limit := uint64(0), min(r.MaxBytes, maxPageBytes)
		part := string(b.meta.Get(keyData))
		for ; k != nil && (size < limit || len(resp.Keys) == 0); k, v = c.Next() {
			// the page carries the value without its checksum (checked
			// here: a damaged value is never replicated)
			val, err := s.open(r.Provider, part, k, v)
			if err != nil {
				return err
			}
			resp.Keys = append(resp.Keys, string(k))
			resp.Vals = append(resp.Vals, bytes.Clone(val))
			size += uint64(len(k) + len(val))
		}
		resp.Done = k == nil
		return nil
	})
	if err == nil {
		s.holdFor(r.Provider, resp.Seq, r.After == "")
	}
	s.statsFor(r.Provider).dispatched.add(len(resp.Keys))
	return resp, err
}

// snapshotHoldFor is how long the log stays held after the last snapshot
// page served: a follower copying a snapshot continues from the sequence
// of its first page, so the log must still hold what comes after it when
// the copy ends, however small disk_cache is against the write rate.
const snapshotHoldFor = 30 * time.Second

// hold is a snapshot in progress on one provider.
type hold struct {
	seq   uint64 // the first page's sequence: keep the log after it
	until time.Time
}

// holdFor keeps p's log after seq, the sequence of a snapshot's first
// page; a later page (first false) extends the hold of its copy.
func (s *Store) holdFor(p string, seq uint64, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.holds[p]
	if first || !ok {
		h.seq = seq
	}
	h.until = time.Now().Add(snapshotHoldFor)
	s.holds[p] = h
}

// release ends p's hold once a follower pulled from past its sequence.
func (s *Store) release(p string, applied uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.holds[p]; ok && applied >= h.seq {
		delete(s.holds, p)
	}
}

// snapshotHold is the highest log sequence p's trimming may drop
// (everything when no snapshot is being copied).
func (s *Store) snapshotHold(p string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.holds[p]; ok && time.Now().Before(h.until) {
		return h.seq
	}
	return ^uint64(0)
}
