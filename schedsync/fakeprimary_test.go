package schedsync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/testutil"
)

// fakePrimary is a primary that knows the secret and serves whatever the
// test puts in its tree, bypassing every check a real primary makes: the
// secondary's own checks are what is under test.
type fakePrimary struct {
	auth *peer.HTTPAuth
	addr string

	mu       sync.Mutex
	tree     Tree
	content  map[string][]byte
	log      []Entry // change records after the manifest, Seq 1, 2, ...
	changed  chan struct{}
	fetched  map[string]int           // whole-file requests per path
	rehashed map[string]int           // rehash requests per path
	garbage  bool                     // answer /v1/changes with a malformed batch
	garbaged int                      // malformed batches sent
	hold     map[string]chan struct{} // /v1/files sends half of these, then waits for the close
	trickle  map[string]time.Duration // /v1/files sends these in 10 pieces, this long apart
	mute     bool                     // /v1/hello gets no answer (as on a cut link)
	forged   []byte                   // /v1/manifest answers these bytes outside the proof (as if changed on the way)
	cut      map[string]bool          // /v1/files sends half of these, then breaks the stream
	holdEnd  map[string]chan struct{} // /v1/delta sends these but the end op, then waits for the close
}

// setMute makes /v1/hello go unanswered until the client gives up (or not).
func (f *fakePrimary) setMute(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mute = on
}

// setGarbage makes /v1/changes answer with a malformed batch (or not).
func (f *fakePrimary) setGarbage(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.garbage = on
	close(f.changed) // wake the long poll
	f.changed = make(chan struct{})
}

func newFake(t *testing.T) *fakePrimary {
	t.Helper()
	auth, err := newLinkAuth(testSecret)
	must(t, err)
	f := &fakePrimary{auth: auth, tree: Tree{}, content: map[string][]byte{},
		changed: make(chan struct{}), fetched: map[string]int{}, rehashed: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	f.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(f.serve)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

// put adds or changes an entry; content is what /v1/files streams for it.
func (f *fakePrimary) put(e Entry, content []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.Seq = uint64(len(f.log) + 1)
	if e.Deleted {
		delete(f.tree, e.Path)
	} else {
		f.tree[e.Path] = e
	}
	if content != nil {
		f.content[e.Path] = content
	}
	f.log = append(f.log, e)
	close(f.changed)
	f.changed = make(chan struct{})
}

// garbageSent is how many malformed batches /v1/changes has sent.
func (f *fakePrimary) garbageSent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.garbaged
}

func (f *fakePrimary) count(m map[string]int, p string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[p]
}

func (f *fakePrimary) serve(rw http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mute := f.mute
	f.mu.Unlock()
	if mute && r.URL.Path == "/v1/hello" {
		<-r.Context().Done()
		return
	}
	nonce, err := f.auth.VerifyRequest(r, maxPathsBody)
	if err != nil {
		f.auth.Refuse(rw, nonce, http.StatusUnauthorized, err.Error())
		return
	}
	w := f.auth.SignResponse(rw, nonce)
	defer w.Finish()
	code := http.StatusOK
	if r.URL.Path == "/v1/changes" && r.URL.Query().Get("log") != "fake-log" {
		code = http.StatusGone
	}
	if code != http.StatusOK {
		w.WriteHeader(code)
		return
	}
	switch r.URL.Path {
	case "/v1/hello":
		f.mu.Lock()
		info := nodeInfo{Node: "fake", Mode: ModePrimary, Role: RolePrimary, Version: "test", Proto: ProtocolVersion,
			State: StateSynced, LogID: "fake-log", Seq: uint64(len(f.log))}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(helloReply{Node: info})
	case "/v1/manifest":
		f.mu.Lock()
		forged := f.forged
		f.mu.Unlock()
		if forged != nil {
			w.WriteHeader(http.StatusOK) // the head and its proof are genuine
			_, _ = rw.Write(forged)      // the body is not the one the proof covers
			return
		}
		f.mu.Lock()
		b := Batch{LogID: "fake-log", Seq: uint64(len(f.log)), Entries: f.tree.sorted()}
		f.mu.Unlock()
		_ = encodeBatch(w, b)
	case "/v1/changes":
		f.serveChanges(w, r)
	case "/v1/files":
		f.serveFiles(w, r)
	case "/v1/delta":
		f.serveDelta(w, r)
	case "/v1/rehash":
		paths, _ := decodePaths(r.Body)
		f.mu.Lock()
		for _, p := range paths {
			f.rehashed[p]++
		}
		f.mu.Unlock()
	}
}

func (f *fakePrimary) serveChanges(w http.ResponseWriter, r *http.Request) {
	since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	f.mu.Lock()
	ch, n := f.changed, uint64(len(f.log))
	f.mu.Unlock()
	if since >= n {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	b := Batch{LogID: "fake-log", Seq: uint64(len(f.log))}
	if since < b.Seq {
		b.Entries = append(b.Entries, f.log[since:]...)
	}
	garbage := f.garbage
	if garbage {
		f.garbaged++
	}
	f.mu.Unlock()
	if garbage {
		_, _ = w.Write([]byte("RSM1\x08fake-log\x01\x01\x09")) // kind 9 does not exist
		return
	}
	_ = encodeBatch(w, b)
}

func (f *fakePrimary) serveFiles(w *peer.ResponseSigner, r *http.Request) {
	paths, err := decodePaths(r.Body)
	if err != nil {
		return
	}
	d := newStreamDigest() // written as the stream goes: a cut stream's proof never comes
	w.UseDigest(d.Hash)
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	for _, p := range paths {
		f.mu.Lock()
		c, ok := f.content[p]
		f.fetched[p]++
		f.mu.Unlock()
		hdr := appendString(nil, p)
		if !ok {
			d.header(append(hdr, 1))
			_, _ = bw.Write(append(hdr, 1))
			continue
		}
		hdr = binary.AppendUvarint(append(hdr, 0), uint64(len(c)))
		d.header(hdr)
		_, _ = bw.Write(hdr)
		f.mu.Lock()
		hold := f.hold[p]
		f.mu.Unlock()
		if hold != nil {
			_, _ = bw.Write(c[:len(c)/2])
			_ = bw.Flush()
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
			c = c[len(c)/2:]
		}
		f.mu.Lock()
		cut := f.cut[p]
		f.mu.Unlock()
		if cut {
			_, _ = bw.Write(c[:len(c)/2])
			_ = bw.Flush()
			panic(http.ErrAbortHandler) // as a primary whose file shrank while sending
		}
		f.mu.Lock()
		every := f.trickle[p]
		f.mu.Unlock()
		for every > 0 && len(c) >= 10 {
			piece := len(c) / 10
			for i := 0; i < 9; i++ {
				_, _ = bw.Write(c[:piece])
				c = c[piece:]
				_ = bw.Flush()
				_ = http.NewResponseController(w).Flush()
				time.Sleep(every) // sleep: the fake primary sends slowly on purpose (a long transfer that keeps going)
			}
			every = 0
		}
		_, _ = bw.Write(c)
	}
}

// serveDelta answers a delta of the content against the secondary's
// signature, its content hash in the trailer (as a primary whose scan
// hash still holds).
func (f *fakePrimary) serveDelta(w *peer.ResponseSigner, r *http.Request) {
	p := r.URL.Query().Get("path")
	sig, err := decodeSignature(r.Body, math.MaxUint64)
	f.mu.Lock()
	c, ok := f.content[p]
	f.mu.Unlock()
	if err != nil || !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Trailer", hashHeader)
	var d bytes.Buffer
	_ = writeDelta(&d, bytes.NewReader(c), sig)
	f.mu.Lock()
	hold := f.holdEnd[p]
	f.mu.Unlock()
	if hold != nil { // everything but 'E' and its checksum, then wait
		_, _ = w.Write(d.Next(d.Len() - 9))
		_ = http.NewResponseController(w).Flush()
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	_, _ = w.Write(d.Bytes())
	sum := contentSum(c)
	w.Header().Set(hashHeader, hex.EncodeToString(sum[:]))
}

// putAll adds or changes entries in one change batch.
func (f *fakePrimary) putAll(es []Entry, contents [][]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, e := range es {
		e.Seq = uint64(len(f.log) + 1)
		f.tree[e.Path] = e
		f.content[e.Path] = contents[i]
		f.log = append(f.log, e)
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// holdDeltaEnd makes /v1/delta stop before the end of p's delta until
// the returned function is called.
func (f *fakePrimary) holdDeltaEnd(p string) func() {
	ch := make(chan struct{})
	f.mu.Lock()
	if f.holdEnd == nil {
		f.holdEnd = map[string]chan struct{}{}
	}
	f.holdEnd[p] = ch
	f.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// setCut makes /v1/files break its stream halfway through p (or not).
func (f *fakePrimary) setCut(p string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut == nil {
		f.cut = map[string]bool{}
	}
	f.cut[p] = on
}

// setTrickle makes /v1/files send p in 10 pieces, every apart.
func (f *fakePrimary) setTrickle(p string, every time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.trickle == nil {
		f.trickle = map[string]time.Duration{}
	}
	f.trickle[p] = every
}

// holdHalf makes /v1/files stop halfway through p until the returned
// function is called.
func (f *fakePrimary) holdHalf(p string) func() {
	ch := make(chan struct{})
	f.mu.Lock()
	if f.hold == nil {
		f.hold = map[string]chan struct{}{}
	}
	f.hold[p] = ch
	f.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// startSecondaryOf starts a real secondary that follows the fake.
func startSecondaryOf(t *testing.T, f *fakePrimary, log *recLog) *testNode {
	t.Helper()
	return startSecondaryWith(t, f, log, nil)
}

// startSyncedSecondary starts a secondary of f, waits until it is Synced,
// and logs its status and log lines when the test fails.
func startSyncedSecondary(t *testing.T, f *fakePrimary) (*testNode, *recLog) {
	t.Helper()
	rec := &recLog{}
	s := startSecondaryOf(t, f, rec)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("status %+v\n%s", s.Status()[0], rec)
		}
	})
	testutil.Eventually(t, 15*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	return s, rec
}

// startSecondaryWith is startSecondaryOf with the secondary's config
// changed by mutate (when not nil).
func startSecondaryWith(t *testing.T, f *fakePrimary, log *recLog, mutate func(b *Config)) *testNode {
	t.Helper()
	_, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, nil)
	if mutate != nil {
		mutate(b)
	}
	lnA.Close()
	b.Peer = "http://" + f.addr
	return startNodeLog(t, b, lnB, log.logger())
}
