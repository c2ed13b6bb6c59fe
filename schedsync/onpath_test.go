package schedsync

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// onPath is a real HTTP proxy between a secondary and its primary that
// does not know the secret. Once armed it rewrites what passes through, as
// an on-path host would.
type onPath struct {
	t       *testing.T
	srv     *httptest.Server
	armed   atomic.Bool
	mu      sync.Mutex
	counts  map[string]int        // what was rewritten, by kind
	rewrite map[string]respEditor // by request path
	header  func(nodeInfo) nodeInfo
}

type respEditor func(resp *http.Response, body []byte) []byte

func newOnPath(t *testing.T, target string) *onPath {
	t.Helper()
	o := &onPath{t: t, counts: map[string]int{}, rewrite: map[string]respEditor{}}
	u, err := url.Parse("http://" + target)
	must(t, err)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			if o.armed.Load() {
				o.count("req " + pr.In.URL.Path)
			}
			if o.armed.Load() && o.header != nil && pr.In.URL.Path == "/v1/hello" {
				if info, err := decodeInfo(pr.In.Header); err == nil {
					pr.Out.Header.Set(nodeHeader, encodeInfo(o.header(info)))
					o.count("header")
				}
			}
		},
		ModifyResponse: o.modify,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	o.srv = httptest.NewServer(rp)
	t.Cleanup(o.srv.Close)
	return o
}

func (o *onPath) count(kind string) {
	o.mu.Lock()
	o.counts[kind]++
	o.mu.Unlock()
}

func (o *onPath) n(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[kind]
}

// modify reads the primary's whole answer (so its trailers arrive), lets
// the editor for the path rewrite the body and passes on the primary's
// trailers unchanged.
func (o *onPath) modify(resp *http.Response) error {
	if !o.armed.Load() { // the test fills rewrite before arming: read it only once armed
		return nil
	}
	ed := o.rewrite[resp.Request.URL.Path]
	if ed == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	out := ed(resp, body)
	if out == nil {
		out = body
	} else {
		o.count(resp.Request.URL.Path)
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return nil
}

func (o *onPath) url() string { return o.srv.URL }

// startPairOnPath starts a primary and a secondary-copy whose requests go
// through an onPath proxy (not armed yet).
func startPairOnPath(t *testing.T) (p, s *testNode, proxy *onPath) {
	t.Helper()
	p, s = startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		proxy = newOnPath(t, a.Listen)
		b.Peer = proxy.url()
	})
	return p, s, proxy
}

// TestOnPathRewritesRefused: an on-path host without the secret injects a
// file, deletes one and changes a mode (manifest and file bodies), forces
// full manifests (status 410) and tells the primary that the secondary is
// Synced (X-Redund-Node). Nothing of it may be applied or believed.
func TestOnPathRewritesRefused(t *testing.T) {
	p, s, proxy := startPairOnPath(t)
	writeFile(t, p.dir, "victim.txt", "keep me", 0o644)
	writeFile(t, p.dir, "mode.txt", "mode", 0o644)
	waitSame(t, p, s, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced on both", func() bool { return p.state() == StateSynced && s.state() == StateSynced })

	evil := []byte("evil")
	injected := Entry{Path: "injected.txt", Kind: KindFile, Size: int64(len(evil)), Mode: 0o644,
		MTime: time.Now().UnixNano(), Hash: contentSum(evil)}
	proxy.rewrite["/v1/manifest"] = editBatch(t, func(b *Batch) {
		var out []Entry
		for _, e := range b.Entries {
			switch e.Path {
			case "victim.txt":
				continue // deleted
			case "mode.txt":
				e.Mode = 0o777
			}
			out = append(out, e)
		}
		injected.Seq = b.Seq
		b.Entries = append(out, injected)
	})
	proxy.rewrite["/v1/changes"] = editBatch(t, func(b *Batch) {
		injected.Seq = b.Seq
		b.Entries = append(b.Entries, injected, Entry{Path: "victim.txt", Kind: KindFile, Deleted: true, Seq: b.Seq})
	})
	proxy.rewrite["/v1/files"] = func(_ *http.Response, body []byte) []byte {
		return rewriteFileStream(body, "injected.txt", evil)
	}
	proxy.header = func(i nodeInfo) nodeInfo {
		i.State, i.Reason, i.Seq = StateSynced, "", 1<<40
		return i
	}
	proxy.armed.Store(true)
	injectedOrCount := func(kind string, n int) func() bool {
		return func() bool {
			_, err := os.Lstat(filepath.Join(s.dir, "injected.txt"))
			return err == nil || proxy.n(kind) >= n
		}
	}
	writeFile(t, p.dir, "trigger.txt", "a change, so that a poll returns", 0o644)
	testutil.Eventually(t, 15*time.Second, "the secondary to take or refuse rewritten change lists", injectedOrCount("/v1/changes", 3))
	checkUntouched(t, s.dir)
	s.requestResync() // a full manifest
	testutil.Eventually(t, 15*time.Second, "the secondary to take or refuse rewritten manifests", injectedOrCount("/v1/manifest", 3))
	testutil.Eventually(t, 15*time.Second, "forged hellos", func() bool { return proxy.n("header") >= 3 })
	checkUntouched(t, s.dir)
	for range 10 { // the state stays honest while the rewriting goes on
		if st := s.state(); st == StateSynced {
			t.Fatalf("secondary reports Synced while its primary's answers are rewritten: %+v", s.Status()[0])
		}
		if st := p.state(); st == StateSynced {
			t.Fatalf("primary reports Synced from a forged X-Redund-Node: %+v", p.Status()[0])
		}
		time.Sleep(50 * time.Millisecond) // sleep: sampling interval while the rewriting goes on
	}
	checkUntouched(t, s.dir)
	if r := s.Status()[0].Reason; !strings.Contains(r, "authentic") {
		t.Errorf("the secondary's reason does not say the answers failed authentication: %q", r)
	}
}

func checkUntouched(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(dir, "injected.txt")); err == nil {
		t.Fatal("the secondary installed a file injected on the path")
	}
	if _, err := os.Lstat(filepath.Join(dir, "victim.txt")); err != nil {
		t.Fatalf("the secondary deleted a file on an on-path host's word: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "mode.txt")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("the secondary changed a mode on an on-path host's word: %v %v", fi.Mode(), err)
	}
}

// editBatch rewrites a manifest or change-log answer.
func editBatch(t *testing.T, edit func(*Batch)) respEditor {
	return func(_ *http.Response, body []byte) []byte {
		b, err := decodeBatch(bytes.NewReader(body))
		if err != nil {
			return nil
		}
		edit(&b)
		var buf bytes.Buffer
		must(t, encodeBatch(&buf, b))
		return buf.Bytes()
	}
}

// rewriteFileStream replaces the record of path in a /v1/files answer with
// content (whatever the primary said about it).
func rewriteFileStream(body []byte, path string, content []byte) []byte {
	br := bufio.NewReader(bytes.NewReader(body))
	var out []byte
	changed := false
	for {
		rec, err := readFileRecord(br, 1<<40)
		if err != nil {
			break
		}
		data := make([]byte, rec.Size)
		if _, err := io.ReadFull(br, data); err != nil {
			break
		}
		if rec.Path == path {
			rec.OK, data, changed = true, content, true
		}
		out = appendString(out, rec.Path)
		if !rec.OK {
			out = append(out, 1)
			continue
		}
		out = binary.AppendUvarint(append(out, 0), uint64(len(data)))
		out = append(out, data...)
	}
	if !changed {
		return nil
	}
	return out
}

// TestOnPathDeltaRewriteRefused: the on-path host replaces a delta with
// its own content of the right size and keeps the primary's X-Redund-Sha256
// trailer (which tells the secondary it need not hash the result).
func TestOnPathDeltaRewriteRefused(t *testing.T) {
	p, s, proxy := startPairOnPath(t)
	big := bigData(256<<10, 3)
	must(t, os.WriteFile(filepath.Join(p.dir, "big.bin"), big, 0o644))
	waitSame(t, p, s, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })

	evil := bytes.Repeat([]byte("EVIL"), len(big)/4)
	proxy.rewrite["/v1/delta"] = func(_ *http.Response, _ []byte) []byte {
		empty, _ := makeSignature(bytes.NewReader(nil), 0)
		var buf bytes.Buffer
		must(t, writeDelta(&buf, bytes.NewReader(evil), empty))
		return buf.Bytes()
	}
	proxy.rewrite["/v1/files"] = func(_ *http.Response, body []byte) []byte {
		return rewriteFileStream(body, "big.bin", evil)
	}
	proxy.armed.Store(true)
	big[len(big)/2] ^= 0xff
	f, err := os.OpenFile(filepath.Join(p.dir, "big.bin"), os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt(big[len(big)/2:len(big)/2+1], int64(len(big)/2)) // in place: no shorter version in between
	must(t, err)
	must(t, f.Close())

	testutil.Eventually(t, 15*time.Second, "the secondary to take or refuse a rewritten delta", func() bool {
		got, _ := os.ReadFile(filepath.Join(s.dir, "big.bin"))
		return proxy.n("/v1/delta") >= 1 && (bytes.Equal(got, evil) || strings.Contains(s.Status()[0].Reason, "authentic"))
	})
	got, err := os.ReadFile(filepath.Join(s.dir, "big.bin"))
	must(t, err)
	if bytes.Equal(got, evil) {
		t.Fatal("the secondary installed content rewritten on the path")
	}
	if st := s.state(); st == StateSynced {
		t.Fatalf("secondary Synced while its deltas are rewritten: %+v", s.Status()[0])
	}
	proxy.armed.Store(false) // the path heals: the change goes through
	waitSame(t, p, s, "after the path healed")
	testutil.Eventually(t, 10*time.Second, "Synced again", func() bool { return s.state() == StateSynced })
	if leftover, _ := filepath.Glob(filepath.Join(s.dir, ".redund-tmp-*")); len(leftover) > 0 {
		t.Fatalf("temporary files left behind: %v", leftover)
	}
}

// TestOnPathErrorTextNotShown: text from an answer that carries no valid
// proof (a stranger, or a rewrite) never reaches the status, and a redirect
// is never followed.
func TestOnPathErrorTextNotShown(t *testing.T) {
	const evil = "EVIL\x1b[2J text from a stranger"
	var trapped atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		trapped.Add(1)
		http.Error(w, evil, http.StatusUnauthorized)
	}))
	t.Cleanup(trap.Close)
	var asked atomic.Int32
	stranger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/manifest" && asked.Add(1)%2 == 0 {
			http.Redirect(w, r, trap.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		http.Error(w, evil, http.StatusUnauthorized)
	}))
	t.Cleanup(stranger.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := startNode(t, &Config{Mode: ModeSecondaryCopy, Dir: t.TempDir(), Listen: ln.Addr().String(), Peer: stranger.URL,
		Secret: testSecret, NodeID: "b", PeerTimeout: config.Duration(600 * time.Millisecond)}, ln)
	seen := map[string]bool{}
	testutil.Eventually(t, 15*time.Second, "both refusals in the status", func() bool {
		r := s.Status()[0].Reason
		if strings.Contains(r, "EVIL") {
			t.Fatalf("unauthenticated text in the status: %q", r)
		}
		for _, w := range []string{"not authenticated", "redirects are not followed"} {
			seen[w] = seen[w] || strings.Contains(r, w)
		}
		return len(seen) == 2 && seen["not authenticated"] && seen["redirects are not followed"] && asked.Load() >= 4
	})
	if n := trapped.Load(); n > 0 {
		t.Errorf("the secondary followed a redirect (%d requests reached the redirect's target)", n)
	}
}

// TestOnPathFileStreamHeaderNotShown: an on-path host renames a record of
// a file stream (the proof covers a digest the secondary cannot complete
// then): the secondary installs nothing of it, reports an authentication
// failure, and the forged name never reaches its status.
func TestOnPathFileStreamHeaderNotShown(t *testing.T) {
	const forged = "FORGED-name"
	p, s, proxy := startPairOnPath(t)
	waitSame(t, p, s, "initial copy")
	proxy.rewrite["/v1/files"] = func(_ *http.Response, body []byte) []byte {
		return bytes.Replace(body, []byte("renamed.txt"), []byte(forged[:len("renamed.txt")]), 1)
	}
	proxy.armed.Store(true)
	writeFile(t, p.dir, "renamed.txt", "content", 0o644)
	testutil.Eventually(t, 15*time.Second, "the secondary to refuse the rewritten stream", func() bool {
		return proxy.n("/v1/files") >= 1 && strings.Contains(s.Status()[0].Reason, "authentic")
	})
	if r := s.Status()[0].Reason; strings.Contains(r, forged[:len("renamed.txt")]) {
		t.Fatalf("the forged name reached the status: %q", r)
	}
	if _, err := os.Lstat(filepath.Join(s.dir, "renamed.txt")); err == nil {
		t.Fatal("the secondary installed a file from a rewritten stream")
	}
	proxy.armed.Store(false)
	waitSame(t, p, s, "after the path healed")
}

// TestOnPathFileContentSwapRefused: an on-path host replaces a file's
// content in a file stream with other bytes of the same size, keeping
// every record header. Since protocol 4 the stream's proof covers only
// the headers; the content is proven by the manifest's hash, so the
// secondary must refuse the swapped bytes as a mismatch, never install
// them, and, once it stops trying, say Not synced naming the file.
func TestOnPathFileContentSwapRefused(t *testing.T) {
	const good, evil = "the primary's own content", "an on-path host's content"
	p, s, proxy := startPairOnPath(t)
	waitSame(t, p, s, "initial copy")
	proxy.rewrite["/v1/files"] = func(_ *http.Response, body []byte) []byte {
		return bytes.Replace(body, []byte(good), []byte(evil), 1)
	}
	proxy.armed.Store(true)
	writeFile(t, p.dir, "swapped.txt", good, 0o644)
	installed := func() string {
		b, _ := os.ReadFile(filepath.Join(s.dir, "swapped.txt"))
		return string(b)
	}
	testutil.Eventually(t, 30*time.Second, "Not synced naming swapped.txt", func() bool {
		if installed() == evil {
			t.Fatal("the secondary installed content swapped on the path")
		}
		d := s.Status()[0]
		return proxy.n("/v1/files") >= 1 && State(d.State) == StateNotSynced && strings.Contains(d.Reason, "swapped.txt")
	})
	if got := installed(); got != "" {
		t.Fatalf("swapped.txt on the secondary: %q, want nothing yet", got)
	}
	proxy.armed.Store(false)
	s.requestResync()
	waitSame(t, p, s, "after the path healed")
}
