// Package webuitest drives a headless Chromium over the DevTools pipe
// (--remote-debugging-pipe: the DevTools protocol as NUL-separated JSON on
// fds 3 and 4), for the tests of the HTML status pages. No Go module is
// needed; Debian's chromium is (.ci/run installs it). Only tests import it.
package webuitest

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// ChromiumPath is Debian's chromium (.ci/run installs it).
const ChromiumPath = "/usr/bin/chromium"

// NeedChromium skips a test without chromium, unless REDUND_INTEGRATION=1.
func NeedChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatalf("%s is required with REDUND_INTEGRATION=1 (apt-get install chromium)", ChromiumPath)
		}
		t.Skipf("%s not installed (apt-get install chromium); set REDUND_INTEGRATION=1 to require it", ChromiumPath)
	}
}

// cdpMsg is a message of the DevTools protocol: a command's reply (ID set)
// or an event (Method set).
type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct{ Message string }
	SessionID string `json:"sessionId,omitempty"`
}

// Browser drives a headless chromium over --remote-debugging-pipe (the
// DevTools protocol as NUL-separated JSON on fds 3 and 4): one page, whose
// JavaScript dialogs are accepted and recorded.
type Browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	in      *os.File
	session string
	loaded  chan struct{}
	readerD chan struct{}

	mu      sync.Mutex
	next    int
	waiting map[int]chan cdpMsg
	dialogs []string
}

// Start starts chromium and attaches to a new blank page.
func Start(t *testing.T) *Browser {
	t.Helper()
	NeedChromium(t)
	cmdIn, in, err := os.Pipe() // chromium reads commands from fd 3
	must(t, err)
	out, cmdOut, err := os.Pipe() // and writes replies and events to fd 4
	must(t, err)
	b := &Browser{t: t, in: in, loaded: make(chan struct{}, 8), readerD: make(chan struct{}), waiting: map[int]chan cdpMsg{}}
	b.cmd = exec.Command(ChromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
		"--user-data-dir="+t.TempDir(), "--no-first-run", "--hide-scrollbars", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdIn, cmdOut}
	must(t, b.cmd.Start())
	cmdIn.Close()
	cmdOut.Close()
	go b.read(out)
	t.Cleanup(b.close)
	var target struct{ TargetID string }
	b.Call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct{ SessionID string }
	b.Call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	b.Do("Page.enable", nil)
	b.Viewport(1100, 900)
	return b
}

// read delivers replies and handles events until chromium closes fd 4.
func (b *Browser) read(out *os.File) {
	defer close(b.readerD)
	defer out.Close()
	r := bufio.NewReader(out)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMsg
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		switch {
		case m.ID != 0:
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		case m.Method == "Page.javascriptDialogOpening":
			var p struct{ Message string }
			_ = json.Unmarshal(m.Params, &p)
			b.mu.Lock()
			b.dialogs = append(b.dialogs, p.Message)
			b.mu.Unlock()
			_ = b.send(b.session, "Page.handleJavaScriptDialog", map[string]any{"accept": true}) // its reply is ignored
		case m.Method == "Page.loadEventFired":
			select {
			case b.loaded <- struct{}{}:
			default:
			}
		}
	}
}

// send writes one command and returns the channel of its reply.
func (b *Browser) send(session, method string, params any) chan cdpMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	ch := make(chan cdpMsg, 1)
	b.waiting[b.next] = ch
	msg, _ := json.Marshal(map[string]any{"id": b.next, "method": method, "params": params, "sessionId": session})
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		delete(b.waiting, b.next)
		return nil
	}
	return ch
}

// Call runs a command and decodes its result into res (may be nil).
func (b *Browser) Call(session, method string, params, res any) {
	b.t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	ch := b.send(session, method, params)
	if ch == nil {
		b.t.Fatalf("chromium: %s: the pipe is closed", method)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			b.t.Fatalf("chromium: %s: %s", method, m.Error.Message)
		}
		if res != nil {
			must(b.t, json.Unmarshal(m.Result, res))
		}
	case <-time.After(30 * time.Second):
		b.t.Fatalf("chromium: %s: no reply in 30 s", method)
	}
}

// Do runs a command on the page.
func (b *Browser) Do(method string, params any) { b.t.Helper(); b.Call(b.session, method, params, nil) }

// Viewport sets the page's size in CSS pixels.
func (b *Browser) Viewport(w, h int) {
	b.Do("Emulation.setDeviceMetricsOverride", map[string]any{"width": w, "height": h, "deviceScaleFactor": 1, "mobile": false})
}

// Navigate loads url and waits for its load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	for len(b.loaded) > 0 {
		<-b.loaded
	}
	b.Do("Page.navigate", map[string]any{"url": url})
	select {
	case <-b.loaded:
	case <-time.After(30 * time.Second):
		b.t.Fatalf("chromium: %s did not load in 30 s", url)
	}
}

// Follow evaluates expr, which makes the page navigate (a click on a link),
// and waits for the new page's load event: an Eval while the page
// navigates fails ("Inspected target navigated or closed").
func (b *Browser) Follow(expr string) {
	b.t.Helper()
	for len(b.loaded) > 0 {
		<-b.loaded
	}
	b.Eval(expr, nil)
	select {
	case <-b.loaded:
	case <-time.After(30 * time.Second):
		b.t.Fatalf("chromium: no page loaded in 30 s after %s", expr)
	}
}

// Eval evaluates a JavaScript expression in the page (promises awaited)
// and decodes its value into res.
func (b *Browser) Eval(expr string, res any) {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails *struct{ Text string }
	}
	b.Call(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("chromium: %s: %s", expr, r.ExceptionDetails.Text)
	}
	if res != nil {
		must(b.t, json.Unmarshal(r.Result.Value, res))
	}
}

// Text is the textContent of the element with id ("" when there is none).
func (b *Browser) Text(id string) string {
	b.t.Helper()
	var s string
	b.Eval(fmt.Sprintf(`(document.getElementById(%q) || {textContent: ""}).textContent`, id), &s)
	return s
}

// Click clicks the element with id from a timer, so that a dialog it
// opens does not hold up the command.
func (b *Browser) Click(id string) {
	b.t.Helper()
	b.Eval(fmt.Sprintf(`setTimeout(() => document.getElementById(%q).click(), 0), true`, id), nil)
}

// Dialogs returns the messages of the dialogs accepted so far.
func (b *Browser) Dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// Screenshot returns a PNG of the whole page at the given width.
func (b *Browser) Screenshot(width int) []byte {
	b.t.Helper()
	var h int
	b.Eval(`document.documentElement.scrollHeight`, &h)
	b.Viewport(width, h)
	var r struct{ Data string }
	b.Call(b.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	must(b.t, err)
	return png
}

// close asks chromium to quit and waits for it (killing it after 10 s).
func (b *Browser) close() {
	_ = b.send("", "Browser.close", map[string]any{})
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
	b.in.Close()
	<-b.readerD
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
