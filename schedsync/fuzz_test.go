package schedsync

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"testing"
)

func FuzzDecodePaths(f *testing.F) {
	f.Add(encodePaths([]string{"a", "d/b.txt"}))
	f.Add(encodePaths([]string{"../x"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		paths, err := decodePaths(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, p := range paths {
			if checkRelPath(p) != nil {
				t.Fatalf("accepted unsafe path %q", p)
			}
		}
	})
}

func FuzzReadFileRecord(f *testing.F) {
	ok := append(appendString(nil, "a/b"), 0, 3, 'x', 'y', 'z')
	f.Add(ok)
	f.Add(append(appendString(nil, "gone"), 1))
	f.Add(append(appendString(nil, "/etc/passwd"), 0, 1, 'x'))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		for range 100 {
			rec, err := readFileRecord(br, 1<<20)
			if err != nil {
				return
			}
			if checkRelPath(rec.Path) != nil || rec.Size < 0 || rec.Size > 1<<20 {
				t.Fatalf("bad record accepted: %+v", rec)
			}
			if _, err := io.CopyN(io.Discard, br, rec.Size); err != nil {
				return
			}
		}
	})
}

func FuzzDecodeInfo(f *testing.F) {
	f.Add(encodeInfo(nodeInfo{Node: "a", Role: RolePrimary, Proto: 1, Version: "v"}))
	f.Add("e30")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		h := http.Header{}
		h.Set(nodeHeader, s)
		i, err := decodeInfo(h)
		if err != nil {
			return
		}
		if Role(i.Role) != RolePrimary && Role(i.Role) != RoleSecondary {
			t.Fatalf("accepted role %q", i.Role)
		}
		if _, err := base64.RawURLEncoding.DecodeString(encodeInfo(i)); err != nil {
			t.Fatal(err)
		}
	})
}
