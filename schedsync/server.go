package schedsync

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/peer"
)

// handler serves the peer protocol:
//
//	GET  /v1/hello                       handshake (both roles)
//	GET  /v1/manifest                    the primary's full manifest (codec.go)
//	GET  /v1/changes?log=&since=&wait=   changes after since; 410 when a full manifest is needed
//	POST /v1/files                       many whole files in one response (filestream.go)
//	POST /v1/delta?path=                 body: signature; response: delta (delta.go)
//	POST /v1/peer/demote                 the peer asks this primary to step down (granted when its verified hello shows a newer epoch)
//	POST /v1/peer/resync                 the primary asks this secondary for a full resync
func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hello", n.auth0(false, 0, n.serveHello))
	mux.HandleFunc("GET /v1/manifest", n.auth0(true, 0, n.serveManifest))
	mux.HandleFunc("GET /v1/changes", n.auth0(true, 0, n.serveChanges))
	mux.HandleFunc("POST /v1/files", n.auth0(true, maxPathsBody, n.serveFiles))
	mux.HandleFunc("POST /v1/delta", n.auth0(true, maxSigBody, n.serveDelta))
	mux.HandleFunc("POST "+rehashPath, n.auth0(true, maxPathsBody, n.serveRehash))
	mux.HandleFunc("POST "+demotePath, n.auth0(false, 0, n.servePeerDemote))
	mux.HandleFunc("POST /v1/peer/resync", n.auth0(false, 0, n.servePeerResync))
	return mux
}

// peerRequest is an authenticated request from the peer.
type peerRequest struct {
	*http.Request
	from nodeInfo
}

// auth0 authenticates (the request's body, at most maxBody bytes,
// included), signs the answer, runs the compatibility check and, for data
// endpoints (dataOnly), insists on this node being primary.
func (n *Node) auth0(dataOnly bool, maxBody int64, h func(http.ResponseWriter, *peerRequest)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pw, finish, ok := n.authenticate(w, r, maxBody)
		if !ok {
			return
		}
		defer finish()
		from, err := decodeInfo(r.Header)
		if err != nil {
			http.Error(pw, err.Error(), http.StatusBadRequest)
			return
		}
		self := n.info()
		refused := compat(self, from)
		n.notePeer(from, refused)
		// demote is how two primaries are resolved: the refusal must not stop it
		if refused != "" && r.URL.Path != demotePath {
			adminapi.WriteJSON(pw, http.StatusConflict, helloReply{Node: self, Refused: refused})
			return
		}
		if dataOnly && self.Role != RolePrimary {
			adminapi.WriteJSON(pw, http.StatusConflict, helloReply{Node: self, Refused: "this node is not primary"})
			return
		}
		if dataOnly && !n.mayPublish() {
			http.Error(pw, errNotPublishing, http.StatusServiceUnavailable)
			return
		}
		h(pw, &peerRequest{Request: r, from: from})
	}
}

func (n *Node) serveHello(w http.ResponseWriter, _ *peerRequest) {
	adminapi.WriteJSON(w, http.StatusOK, helloReply{Node: n.info()})
}

func (n *Node) currentLog() *changeLog {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.clog
}

func (n *Node) serveManifest(w http.ResponseWriter, _ *peerRequest) {
	cl := n.currentLog()
	if cl == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	tree, seq := cl.snapshot()
	id, _ := cl.current()
	w.Header().Set("Content-Type", "application/octet-stream")
	_ = encodeBatch(w, Batch{LogID: id, Seq: seq, Entries: tree.sorted()})
}

// serveChanges long-polls: it answers as soon as there is a change after
// since, or after wait (an empty batch, which doubles as a heartbeat).
func (n *Node) serveChanges(w http.ResponseWriter, r *peerRequest) {
	cl := n.currentLog()
	if cl == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	since, err := strconv.ParseUint(q.Get("since"), 10, 64)
	wait, _ := time.ParseDuration(q.Get("wait"))
	id, _ := cl.current()
	if err != nil || q.Get("log") != id {
		http.Error(w, "full manifest needed", http.StatusGone)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(max(wait, 0), 30*time.Second))
	defer cancel()
	cl.wait(ctx, since)
	if !n.mayPublish() { // the lock may have gone during the wait
		http.Error(w, errNotPublishing, http.StatusServiceUnavailable)
		return
	}
	out, cur, ok := cl.since(since)
	if !ok {
		http.Error(w, "full manifest needed", http.StatusGone)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_ = encodeBatch(w, Batch{LogID: id, Seq: cur, Entries: out})
}

func (n *Node) serveFiles(w http.ResponseWriter, r *peerRequest) {
	paths, err := decodePaths(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, p := range paths {
		if n.match.excludedUnder(p) {
			http.Error(w, "excluded path: "+p, http.StatusForbidden)
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	var d hash.Hash
	if sw, ok := w.(*peer.ResponseSigner); ok { // the proof covers the stream's digest (filestream.go)
		d = newStreamDigest().Hash
		sw.UseDigest(d)
	}
	cw := &countWriter{w: w}
	if err := serveFiles(cw, n.w.openRead, paths, d); err != nil {
		n.log.Debug("file stream cut", "err", err)
		panic(http.ErrAbortHandler) // the secondary sees a broken stream and retries
	}
	n.metrics.sent.Add(float64(cw.n))
}

func (n *Node) serveDelta(w http.ResponseWriter, r *peerRequest) {
	p := r.URL.Query().Get("path")
	if err := checkRelPath(p); err != nil || n.match.excludedUnder(p) {
		http.Error(w, "refused path", http.StatusBadRequest)
		return
	}
	f, err := n.w.openRead(p)
	if err != nil {
		http.Error(w, "gone", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "gone", http.StatusNotFound)
		return
	}
	// the basis is bounded by the file (maxBasisFor) before any block of
	// the signature is read: an authenticated but forged header cannot make
	// this node hold millions of blocks for a small file
	sig, err := decodeSignature(io.LimitReader(r.Body, 16+12*maxSigBlocks), maxBasisFor(fi.Size()))
	if errors.Is(err, errSigTooBig) {
		n.metrics.bigSigs.Inc()
		n.log.Warn("delta signature refused", "path", p, "size", fi.Size(), "err", err)
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Trailer", hashHeader)
	cw := &countWriter{w: w}
	// the scan's hash stands for the content while the file's stat data
	// (ctime included) is what it was hashed with; else hash what is read
	var src io.Reader = bufio.NewReaderSize(f, 1<<20)
	kept, haveKept := [32]byte{}, false
	if fi, err := f.Stat(); err == nil {
		kept, haveKept = n.hashes.get(p, fi)
	}
	var h hash.Hash
	if !haveKept {
		h = newContentHash()
		src = io.TeeReader(src, h)
	}
	if err := writeDeltaFlushing(cw, src, sig, http.NewResponseController(w).Flush); err != nil {
		panic(http.ErrAbortHandler)
	}
	n.metrics.sent.Add(float64(cw.n))
	w.Header().Set(hashHeader, deltaHash(n, p, f, h, kept))
}

// deltaHash is the trailer of a delta answer: the hash of what was read,
// or the kept one if the file still has the stat data it was kept for
// after the reading ("" when it changed meanwhile: the secondary hashes
// the result itself).
func deltaHash(n *Node, p string, f *os.File, h hash.Hash, kept [32]byte) string {
	if h != nil {
		return hex.EncodeToString(h.Sum(nil))
	}
	if fi, err := f.Stat(); err == nil {
		if now, ok := n.hashes.get(p, fi); ok && now == kept {
			return hex.EncodeToString(kept[:])
		}
	}
	return ""
}

// hashHeader (a trailer of delta responses) carries the content hash of the
// bytes the primary read to make the delta. The secondary compares it
// with the manifest's hash and checks the delta's own checksum instead of
// hashing 100 MiB again. It is the hash of what was sent, not the
// manifest's: a file edited without a size or mtime change keeps a stale
// hash in the manifest, and repeating that one made the secondary record
// it for content it does not describe (and the primary never repaired it).
const hashHeader = "X-Redund-Sha256"

func (n *Node) servePeerDemote(w http.ResponseWriter, r *peerRequest) {
	if err := n.demoteFor(r.Context(), r.from); err != nil {
		adminapi.WriteError(w, http.StatusConflict, err.Error())
		return
	}
	adminapi.WriteJSON(w, http.StatusOK, map[string]string{"result": "demoted"})
}

func (n *Node) servePeerResync(w http.ResponseWriter, _ *peerRequest) {
	if n.Role() != RoleSecondary {
		adminapi.WriteError(w, http.StatusConflict, "not a secondary")
		return
	}
	n.requestResync()
	adminapi.WriteJSON(w, http.StatusOK, map[string]string{"result": "resync started"})
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
