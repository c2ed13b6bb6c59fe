package srv

import (
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	b := "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n"
	want := `--- old
+++ new
@@ -2,9 +2,10 @@
 b
 c
 d
-e
+E
 f
 g
 h
 i
 j
+k
`
	if got := UnifiedDiff("old", "new", a, b, 3); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := UnifiedDiff("old", "new", a, a, 3); got != "" {
		t.Errorf("equal inputs gave %q", got)
	}
	// two far-apart changes make two hunks; missing final newline is marked
	got := UnifiedDiff("x", "y", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "0\n2\n3\n4\n5\n6\n7\n8\n9\n10", 1)
	want = "--- x\n+++ y\n@@ -1,2 +1,2 @@\n-1\n+0\n 2\n@@ -9,2 +9,2 @@\n 9\n-10\n+10\n\\ No newline at end of file\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := UnifiedDiff("x", "y", "", "new\n", 3); got != "--- x\n+++ y\n@@ -0,0 +1 @@\n+new\n" {
		t.Errorf("from empty: %q", got)
	}
}

// apply rebuilds y from x and the script, checking every kept line.
func apply(t testing.TB, x, y []string, ops []op) string {
	var sb strings.Builder
	i, j := 0, 0
	for _, o := range ops {
		if o.i != i || o.j != j {
			t.Fatalf("op %c at (%d,%d), cursor at (%d,%d)", o.kind, o.i, o.j, i, j)
		}
		switch o.kind {
		case ' ':
			if x[i] != y[j] {
				t.Fatalf("kept line differs: %q vs %q", x[i], y[j])
			}
			sb.WriteString(y[j])
			i, j = i+1, j+1
		case '-':
			i++
		case '+':
			sb.WriteString(y[j])
			j++
		}
	}
	if i != len(x) || j != len(y) {
		t.Fatalf("script ends at (%d,%d), want (%d,%d)", i, j, len(x), len(y))
	}
	return sb.String()
}

func FuzzUnifiedDiff(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nc\nd\n")
	f.Add("", "x")
	f.Add("same\n", "same\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		x, y := splitLines(a), splitLines(b)
		ops := diffLines(x, y)
		if got := apply(t, x, y, ops); got != b {
			t.Fatalf("script rebuilds %q, want %q", got, b)
		}
		d := UnifiedDiff("a", "b", a, b, 3)
		if (d == "") != (a == b) {
			t.Fatalf("diff empty = %v for equal = %v", d == "", a == b)
		}
	})
}

func TestDiffLargeFallsBack(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 3000; i++ {
		a.WriteString("a" + strings.Repeat("x", i%7) + "\n")
		b.WriteString("b" + strings.Repeat("x", i%5) + "\n")
	}
	x, y := splitLines(a.String()), splitLines(b.String())
	if got := apply(t, x, y, diffLines(x, y)); got != b.String() {
		t.Fatal("fallback script does not rebuild the new file")
	}
}
