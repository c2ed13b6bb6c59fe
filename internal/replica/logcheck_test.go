package replica

import (
	"strings"
	"testing"
)

// TestFollowerRefusesAnotherLogsEntries: a pull answer from a log other
// than the one the follower follows (or that contradicts its position)
// is refused, not applied under the old log's name.
func TestFollowerRefusesAnotherLogsEntries(t *testing.T) {
	l, f := open(t, Options{NoSync: true}), open(t, Options{NoSync: true})
	for _, k := range []string{"a", "b", "c", "d"} {
		if _, err := l.Put("config", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	stop := follow(t, f, l, "config")
	waitConverged(t, f, l, "config")
	stop()
	pos, err := f.Position("config")
	if err != nil || pos.Applied != 4 {
		t.Fatalf("follower at %+v (%v)", pos, err)
	}
	src := pos.SrcLogID
	entry := Entry{Seq: 5, Op: OpPut, Key: "k", Value: []byte("v"), Time: 1}
	for _, c := range []struct {
		name string
		resp pullResp
		want string
	}{
		{"another log", pullResp{LogID: "0123456789abcdef", First: 1, Last: 5, Entries: []Entry{entry}}, "answered from log"},
		{"log ends before the follower", pullResp{LogID: src, First: 1, Last: 3}, "before this node's"},
		{"entry beyond the log's end", pullResp{LogID: src, First: 1, Last: 4, Entries: []Entry{entry}}, "beyond its log's end"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := f.applyEntries("config", pos, c.resp)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if _, ok, _ := f.Get("config", "k"); ok {
				t.Fatal("entry applied")
			}
		})
	}
}
