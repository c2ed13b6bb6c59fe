package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestNewBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "3e07a5c1234567890abcdef"}, {Key: "vcs.modified", Value: "true"},
		{Key: "vcs.time", Value: "2026-11-23T16:20:00Z"}, {Key: "CGO_ENABLED", Value: "0"},
	}
	for _, tt := range []struct {
		name     string
		tag      string
		bi       *debug.BuildInfo
		version  string
		revision string // in the text
	}{
		{"no build info (a test binary)", "", nil, "devel", "unknown"},
		{"go build of a checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "devel", "3e07a5c12345-dirty"},
		{"go install @v1.2.0", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0", "unknown"},
		{"VCS pseudo-version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261123162000-3e07a5c12345+dirty"}, Settings: vcs},
			"v0.0.0-20261123162000-3e07a5c12345+dirty", "3e07a5c12345-dirty"},
		{"release tag by -ldflags wins", "v1.3.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: vcs[:1]}, "v1.3.0", "3e07a5c12345"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuildInfo(tt.tag, tt.bi)
			want := "redund " + tt.version + " (revision " + tt.revision + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
			if b.Version != tt.version || b.String() != want {
				t.Errorf("%s: version %q, text %q; want %q, %q", tt.name, b.Version, b.String(), tt.version, want)
			}
		})
	}
	b := newBuildInfo("", &debug.BuildInfo{Settings: vcs})
	if b.Revision != vcs[0].Value || !b.Modified || b.Time != vcs[2].Value || b.CGO {
		t.Errorf("settings not read: %+v", b)
	}
}

// `redund version` and `redund --version` print the same line; the
// effective version is what the daemons report too.
func TestVersionAndFlagAgree(t *testing.T) {
	a, code := runCLI(t, "version")
	b, code2 := runCLI(t, "--version")
	if code != exitOK || code2 != exitOK || a != b || a != build.String()+"\n" {
		t.Fatalf("version = %q (%d), --version = %q (%d); want both %q", a, code, b, code2, build.String())
	}
	if version != build.Version || version == "" {
		t.Errorf("version = %q, build.Version = %q", version, build.Version)
	}
}

func TestVersionJSON(t *testing.T) {
	out, code := runCLI(t, "version", "--json")
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); code != exitOK || err != nil {
		t.Fatalf("version --json: code %d, %v: %q", code, err, out)
	}
	for _, k := range []string{"version", "modified", "go", "os", "arch", "cgo"} {
		if _, ok := m[k]; !ok {
			t.Errorf("version --json lacks %q: %s", k, out)
		}
	}
	if m["go"] != runtime.Version() || m["os"] != runtime.GOOS || m["version"] != version {
		t.Errorf("version --json = %s", out)
	}
	if out, code := runCLI(t, "version", "extra"); code != exitUsage || !strings.Contains(out, "wrong number") {
		t.Errorf("version extra: code %d, %q", code, out)
	}
}
