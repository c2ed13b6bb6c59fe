package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is the release tag, set by release builds with
//
//	-ldflags "-X main.version=v1.2.0"
//
// (make dist does). Left empty, it comes from the build: the module version
// (go install ...@v1.2.0, or the VCS pseudo-version go build stamps) or
// else "devel". init replaces it with the effective version, which the
// daemons also report to their peers and in their status.
var version string

// build is what this binary knows about how it was built.
var build = newBuildInfo(version, readBuildInfo())

func init() {
	version = build.Version
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, build.String()) }
}

// buildInfo is the output of `redund version --json`.
type buildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"` // VCS revision (full hash)
	Modified bool   `json:"modified"`           // built from a tree with uncommitted changes
	Time     string `json:"time,omitempty"`     // commit time (RFC 3339)
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CGO      bool   `json:"cgo"` // false: a static binary
}

func readBuildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// newBuildInfo resolves the version: the -X tag if set, else the module
// version if it is a real one, else "devel"; bi may be nil.
func newBuildInfo(tag string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: tag, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			case "vcs.time":
				b.Time = s.Value
			case "CGO_ENABLED":
				b.CGO = s.Value == "1"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// String is the text of `redund version` and `redund --version`:
// "redund v1.2.0 (revision 3e07a5c12345, go1.26.8 linux/amd64)".
func (b buildInfo) String() string {
	rev := "unknown"
	if b.Revision != "" {
		rev = b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if b.Modified {
			rev += "-dirty"
		}
	}
	return fmt.Sprintf("redund %s (revision %s, %s %s/%s)", b.Version, rev, b.Go, b.OS, b.Arch)
}

type versionOptions struct{ JSON bool }

func newVersionCommand() *cli.Command {
	o := &versionOptions{}
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, VCS revision, Go version and platform",
		Description: "Prints what `redund --version` prints. The version is the release tag of a\n" +
			"release build (make dist), else the module or VCS version of the build.\n\n" +
			"EXAMPLES\n   redund version\n   redund version --json | jq -r .revision\n\n" +
			exitStatusHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Destination: &o.JSON, Usage: "print version, revision, modified, time, go, os, arch and cgo as JSON"},
		},
		Action: withArgs(0, 0, func(c *cli.Context) error {
			if o.JSON {
				return printJSON(c, build)
			}
			printf(c, "%s\n", build)
			return nil
		}),
	}
}
