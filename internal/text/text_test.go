package text

import "testing"

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 differences"}, {1, "1 difference"}, {2, "2 differences"}, {-1, "-1 differences"}} {
		t.Run(tc.want, func(t *testing.T) {
			if got := Plural(tc.n, "difference"); got != tc.want {
				t.Errorf("Plural(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}
