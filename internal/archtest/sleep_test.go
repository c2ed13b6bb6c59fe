package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sleepMarker must be in a comment on the line of a time.Sleep in a test,
// or on the line above it, saying why the sleep is not a wait for something
// to happen (a wait uses testutil.Eventually or a channel instead).
const sleepMarker = "// sleep:"

// TestNoBareSleepInTests: every time.Sleep in a _test.go file carries a
// "// sleep: why" comment. Tests wait on readiness signals; a sleep is for
// time that is itself the subject (a lease or deadline to pass, a slow
// peer, a window in which nothing may happen, a poll interval).
func TestNoBareSleepInTests(t *testing.T) {
	for _, v := range bareSleeps(t, repoRoot(t)) {
		t.Error(v)
	}
}

// TestSleepCheckFindsBareSleeps proves the check above can fail, and that
// the marker on the line or the line above satisfies it.
func TestSleepCheckFindsBareSleeps(t *testing.T) {
	root := t.TempDir()
	src := `package x

import (
	"testing"
	tm "time"
)

func TestX(t *testing.T) {
	tm.Sleep(1) // sleep: marked on the line
	tm.Sleep(2) // bare: a marker at the end of the line above does not count
	// sleep: marked on the line above
	tm.Sleep(3)
	for i := 0; i < 2; tm.Sleep(4) {
		i++
	}
	f := tm.Sleep
	f(5)
}
`
	files := map[string]string{
		"x/x_test.go":          src,
		"x/x.go":               "package x\n\nimport \"time\"\n\nfunc F() { time.Sleep(1) }\n",
		"x/testdata/y_test.go": "package y\n\nimport \"time\"\n\nfunc F() { time.Sleep(1) }\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := bareSleeps(t, root)
	want := []string{"x/x_test.go:10:", "x/x_test.go:13:", "x/x_test.go:16:"}
	if len(got) != len(want) {
		t.Fatalf("bare sleeps = %q, want %d at %q", got, len(want), want)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("bare sleep %d = %q, want it at %s", i, got[i], w)
		}
	}
}

// bareSleeps returns file:line for every reference to time.Sleep in a
// _test.go file under root without the marker on its line or the line
// above, in walk order.
func bareSleeps(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		lines, err := unmarkedSleepLines(path)
		for _, l := range lines {
			out = append(out, rel+":"+strconv.Itoa(l)+": time.Sleep without a \""+sleepMarker+" why\" comment (wait on a readiness signal instead, or say why the time itself is the subject)")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func unmarkedSleepLines(path string) ([]int, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	timeName := ""
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == "time" {
			timeName = "time"
			if im.Name != nil {
				timeName = im.Name.Name
			}
		}
	}
	if timeName == "" || timeName == "_" {
		return nil, nil
	}
	marked := map[int]bool{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, sleepMarker) {
				pos := fset.Position(c.Slash)
				marked[pos.Line] = true
				lineStart := pos.Offset - (pos.Column - 1)
				if strings.TrimSpace(string(src[lineStart:pos.Offset])) == "" {
					marked[pos.Line+1] = true // a comment line of its own covers the next
				}
			}
		}
	}
	var out []int
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Sleep" {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == timeName {
			if line := fset.Position(sel.Pos()).Line; !marked[line] {
				out = append(out, line)
			}
		}
		return true
	})
	return out, nil
}
