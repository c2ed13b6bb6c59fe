package replica

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// pages is a leader that asks for a full sync and answers every snapshot
// request with page (it counts them and gives up after 100).
type pages struct {
	page   snapResp
	asked  int
	pulled bool
}

func (p *pages) Request(_ context.Context, _ byte, body []byte) ([]byte, error) {
	if body[0] == kindPull {
		if p.pulled {
			return nil, errors.New("pulled after the copy")
		}
		p.pulled = true
		return pullResp{LogID: "aaaa", Last: 9, Full: true, Reason: "first"}.encode(), nil
	}
	p.asked++
	if p.asked > 100 {
		return nil, errors.New("the follower keeps asking for pages")
	}
	return p.page.encode(), nil
}

// TestSnapshotPagesMustAdvance: a snapshot page whose keys do not come
// after the last page's in order, or whose values are not in the stored
// form (a version of 8 bytes first), is refused. A leader that sent the
// same page again and again kept the follower asking for ever.
func TestSnapshotPagesMustAdvance(t *testing.T) {
	val := []byte("\x00\x00\x00\x00\x00\x00\x00\x01v")
	for _, c := range []struct {
		name string
		page snapResp
		want string
	}{
		{"the same page again", snapResp{LogID: "aaaa", Seq: 9, Keys: []string{"a", "b"}, Vals: [][]byte{val, val}}, "not after"},
		{"keys out of order", snapResp{LogID: "aaaa", Seq: 9, Done: true, Keys: []string{"b", "a"}, Vals: [][]byte{val, val}}, "not after"},
		{"a value without its version", snapResp{LogID: "aaaa", Seq: 9, Done: true, Keys: []string{"a"}, Vals: [][]byte{[]byte("v")}}, "version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := open(t, Options{NoSync: true})
			leader := &pages{page: c.page}
			err := f.Follow(context.Background(), "config", leader, 0x40)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v after %d pages, want %q", err, leader.asked, c.want)
			}
			if pos, _ := f.Position("config"); pos.SrcLogID != "" {
				t.Fatalf("the copy was taken: %+v", pos)
			}
		})
	}
}
