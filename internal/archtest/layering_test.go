package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/redund/redund"

var schemes = []string{"voter", "schedsync", "srv", "ddns", "gateway"}

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s", root)
	}
	return root
}

// imports returns, for every Go file under dir (tests included), the module
// packages it imports.
func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, module+"/") {
				out[path] = append(out[path], strings.TrimPrefix(p, module+"/"))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemesImportOnlyInternal: a scheme package may import internal/ and
// libraries, never another scheme package nor cmd/.
func TestSchemesImportOnlyInternal(t *testing.T) {
	for _, v := range schemeViolations(t, repoRoot(t)) {
		t.Error(v)
	}
}

// TestLayeringCheckFindsViolations proves the check above can fail.
func TestLayeringCheckFindsViolations(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "ddns"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package ddns\nimport _ \"" + module + "/srv\"\n"
	if err := os.WriteFile(filepath.Join(root, "ddns", "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	v := schemeViolations(t, root)
	if len(v) != 1 || !strings.Contains(v[0], "ddns/x.go imports srv") {
		t.Fatalf("violations = %q, want one for ddns/x.go", v)
	}
}

func schemeViolations(t *testing.T, root string) []string {
	var out []string
	for _, s := range schemes {
		if _, err := os.Stat(filepath.Join(root, s)); err != nil {
			continue
		}
		for file, pkgs := range imports(t, filepath.Join(root, s)) {
			for _, p := range pkgs {
				top := strings.Split(p, "/")[0]
				if top != "internal" && top != s {
					rel, _ := filepath.Rel(root, file)
					out = append(out, rel+" imports "+p+": scheme packages may import only internal/ and libraries")
				}
			}
		}
	}
	return out
}

// TestInternalImportsNoScheme: internal packages sit below every scheme.
func TestInternalImportsNoScheme(t *testing.T) {
	root := repoRoot(t)
	for file, pkgs := range imports(t, filepath.Join(root, "internal")) {
		for _, p := range pkgs {
			if top := strings.Split(p, "/")[0]; top != "internal" {
				rel, _ := filepath.Rel(root, file)
				t.Errorf("%s imports %s: internal/ must not import scheme or cmd packages", rel, p)
			}
		}
	}
}
