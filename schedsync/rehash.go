package schedsync

import (
	"context"
	"net/http"
	"time"

	"github.com/redund/redund/internal/adminapi"
)

// A file whose content changed without a size or mtime change keeps its
// old hash in the manifest (the scan's quick check trusts size and mtime),
// and every fetch of it fails the secondary's hash check. The secondary
// then asks the primary to hash those files again:
//
//	POST /v1/rehash   body: the paths (as for /v1/files)
//
// The primary re-reads them from disk and publishes a corrected entry for
// each whose hash changed before it answers, so the secondary's next poll
// brings it.
const rehashPath = "/v1/rehash"

// rehashReq is a rehash request handed to the primary's loop, which owns
// the tree.
type rehashReq struct {
	paths []string
	done  chan struct{}
}

// askRehash tells the primary which files did not match its manifest
// (best effort: on failure the files are simply fetched again later).
func (n *Node) askRehash(ctx context.Context, paths []string) {
	if len(paths) > maxFilesPerRequest {
		paths = paths[:maxFilesPerRequest]
	}
	rctx, cancel := context.WithTimeout(ctx, n.peerTimeout()+30*time.Second)
	defer cancel()
	resp, err := n.client.do(rctx, http.MethodPost, rehashPath, encodePaths(paths))
	if err != nil {
		n.log.Debug("rehash request failed", "err", err)
		return
	}
	resp.Body.Close()
}

// serveRehash hands the paths to the primary's loop and answers once it
// has published what changed.
func (n *Node) serveRehash(w http.ResponseWriter, r *peerRequest) {
	paths, err := decodePaths(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := rehashReq{paths: paths, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	select {
	case n.rehashCh <- req:
	case <-ctx.Done():
		http.Error(w, "primary busy", http.StatusServiceUnavailable)
		return
	}
	select {
	case <-req.done:
		adminapi.WriteJSON(w, http.StatusOK, map[string]int{"rehashed": len(paths)})
	case <-ctx.Done():
		http.Error(w, "primary busy", http.StatusServiceUnavailable)
	}
}

// rehash re-reads the requested files, ignoring the quick check, and
// publishes those whose content differs from the manifest.
func (pl *primaryLoop) rehash(req rehashReq) {
	defer close(req.done)
	var changes []Entry
	pl.s.begin()
	defer pl.s.end()
	for _, p := range req.paths {
		old, ok := pl.raw[p]
		if !ok || old.Kind != KindFile || pl.s.match.excludedUnder(p) {
			continue
		}
		// no previous tree: hash whatever size and mtime say; and no kept
		// chunk: an xxhash collision could have made the manifest wrong
		pl.n.hashes.forget(p)
		e, ok, err := pl.s.stat(p, nil)
		switch {
		case err != nil:
			continue
		case !ok:
			changes = append(changes, Entry{Path: p, Kind: old.Kind, Deleted: true})
			continue
		case e.same(old):
			continue
		}
		if e.Size == old.Size && e.MTime == old.MTime {
			pl.n.log.Warn("content changed without a size or mtime change; published its new hash", "path", p)
		}
		changes = append(changes, e)
	}
	pl.publish(changes)
}
