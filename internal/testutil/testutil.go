// Package testutil has helpers shared by the project's tests. Only test
// files import it.
package testutil

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// Updating reports whether the tests run with -update (for golden files
// that a package compares in its own way).
func Updating() bool { return *update }

// Golden compares got with testdata/name.golden; `go test -update`
// (re)writes the file instead.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// ClosedTCPAddr returns a loopback host:port that was free a moment ago and
// has no listener now: for a peer that is down, or a port a process under
// test is to listen on. Another process may take it in between; tests on
// one machine accept that race.
func ClosedTCPAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// NilLists returns the paths of the nil slices in v that JSON would print as
// null (exported fields without omitempty, walked through structs, pointers
// and slices): a --json output promises [] for an empty list.
func NilLists(v any) []string {
	var out []string
	nilLists(reflect.ValueOf(v), "", &out)
	return out
}

func nilLists(v reflect.Value, path string, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			nilLists(v.Elem(), path, out)
		}
	case reflect.Slice:
		if v.IsNil() {
			*out = append(*out, path)
			return
		}
		for i := 0; i < v.Len(); i++ {
			nilLists(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if !f.IsExported() || tag == "-" || strings.Contains(tag, "omitempty") {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			nilLists(v.Field(i), path+"."+name, out)
		}
	}
}

// Eventually polls cond every few milliseconds until it holds and returns
// how long that took; after within it fails the test naming what was
// awaited. It is the one poll loop of the project's tests: wait on a
// readiness signal where there is one, and on Eventually where the only
// signal is state that can be read.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// Buffer is a bytes.Buffer that several goroutines may write at once: a
// log sink for a server under test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
