package schedsync

import (
	"fmt"
	"reflect"
	"testing"
)

func TestGroupFailures(t *testing.T) {
	const full, big = "write: no space left on device", "write: file too large"
	many := func(n int) ([]string, map[string]string) {
		var ps []string
		why := map[string]string{}
		for i := range n {
			p := fmt.Sprintf("d/f%05d", i)
			ps = append(ps, p)
			why[p] = full
		}
		return ps, why
	}
	ps10000, why10000 := many(10000)
	for _, c := range []struct {
		name  string
		paths []string
		why   map[string]string
		want  []failGroup
	}{
		{"none", nil, nil, nil},
		{"one", []string{"a"}, map[string]string{"a": full}, []failGroup{{why: full, paths: []string{"a"}, count: 1}}},
		{"three with one reason: a line each", []string{"a", "b", "c"}, map[string]string{"a": full, "b": full, "c": full},
			[]failGroup{{full, []string{"a"}, 1}, {full, []string{"b"}, 1}, {full, []string{"c"}, 1}}},
		{"a full disk over a whole copy: one line", ps10000, why10000,
			[]failGroup{{full, []string{"d/f00000", "d/f00001", "d/f00002"}, 10000}}},
		{"two reasons keep their first order", []string{"x", "a", "b", "c", "d"},
			map[string]string{"x": big, "a": full, "b": full, "c": full, "d": full},
			[]failGroup{{big, []string{"x"}, 1}, {full, []string{"a", "b", "c"}, 4}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := groupFailures(c.paths, c.why); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
