package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A rule forbids a package, and what it imports from the module, to
// import any path with one of the prefixes.
type depRule struct {
	pkg    string   // directory below the root: "ddns", "internal/status"
	banned []string // import path prefixes
	why    string
}

var lipgloss = []string{"github.com/charmbracelet/", "github.com/muesli/termenv"}

// depRules keep the terminal renderer out of the daemons and the status
// document free of the admin server (issue 17): lipgloss is imported by
// internal/status/termview, which only cmd/redund and the demo use.
func depRules() []depRule {
	var rules []depRule
	for _, s := range schemes {
		rules = append(rules, depRule{s, lipgloss, "a daemon does not draw terminal tables (use internal/status/termview in cmd/redund)"})
	}
	return append(rules, depRule{"internal/status", append([]string{"net/http", "github.com/prometheus/",
		module + "/internal/adminapi"}, lipgloss...),
		"the status document is types and pure helpers: serving is internal/adminapi, drawing internal/status/termview"})
}

// pkgImports returns the imports of the Go files of one directory (not
// its subdirectories), with or without its tests.
func pkgImports(t *testing.T, dir string, tests bool) map[string][]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || (!tests && strings.HasSuffix(name, "_test.go")) {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			out[p] = append(out[p], name)
		}
	}
	return out
}

// depViolations checks every rule on the package's files (tests included)
// and, through the module's own packages, on what they import (tests
// excluded): each violation names the chain that leads to the import.
func depViolations(t *testing.T, root string) []string {
	var out []string
	for _, r := range depRules() {
		dir := filepath.Join(root, r.pkg)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		seen := map[string]bool{r.pkg: true}
		type item struct{ pkg, chain string }
		queue := []item{{r.pkg, r.pkg}}
		for len(queue) > 0 {
			it := queue[0]
			queue = queue[1:]
			ims := pkgImports(t, filepath.Join(root, it.pkg), it.pkg == r.pkg)
			paths := make([]string, 0, len(ims))
			for p := range ims {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			for _, p := range paths {
				for _, b := range r.banned {
					if p == b || strings.HasPrefix(p, b) && (strings.HasSuffix(b, "/") || p[len(b)] == '/') {
						out = append(out, it.chain+" ("+ims[p][0]+") imports "+p+": "+r.why)
					}
				}
				if rel, ok := strings.CutPrefix(p, module+"/"); ok && !seen[rel] {
					seen[rel] = true
					queue = append(queue, item{rel, it.chain + " -> " + rel})
				}
			}
		}
	}
	return out
}

// TestNoTerminalRendererInDaemons: no scheme package and not the status
// document pulls lipgloss in, and the document does not pull in the admin
// server (net/http, prometheus).
func TestNoTerminalRendererInDaemons(t *testing.T) {
	for _, v := range depViolations(t, repoRoot(t)) {
		t.Error(v)
	}
}

// TestDepCheckFindsViolations proves the check above can fail: directly,
// through a module package, and for the document's own rules.
func TestDepCheckFindsViolations(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ddns/x.go", "package ddns\nimport _ \""+module+"/internal/pretty\"\n")
	write("internal/pretty/p.go", "package pretty\nimport _ \"github.com/charmbracelet/lipgloss\"\n")
	write("voter/v_test.go", "package voter\nimport _ \"github.com/charmbracelet/lipgloss/table\"\n")
	write("internal/status/d.go", "package status\nimport _ \"net/http\"\nimport _ \"net/netip\"\n")
	write("internal/status/termview/r.go", "package termview\nimport _ \"github.com/charmbracelet/lipgloss\"\n")
	got := strings.Join(depViolations(t, root), "\n")
	for _, want := range []string{
		"ddns -> internal/pretty (p.go) imports github.com/charmbracelet/lipgloss",
		"voter (v_test.go) imports github.com/charmbracelet/lipgloss/table",
		"internal/status (d.go) imports net/http:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "net/netip") || strings.Contains(got, "termview (r.go)") {
		t.Errorf("violations name an allowed import:\n%s", got)
	}
}
