package replica

import "testing"

// FuzzDecode feeds arbitrary bytes to every wire decoder of the package.
func FuzzDecode(f *testing.F) {
	f.Add(pullReq{Provider: "config", LogID: "ab", Applied: 3, Max: 10, WaitMS: 1000}.encode())
	f.Add(pullResp{LogID: "ab", First: 1, Last: 2, Entries: []Entry{{Seq: 2, Op: OpPut, Key: "k", Value: []byte("v"), Time: 5}}}.encode())
	f.Add(snapReq{Provider: "state", After: "k", MaxBytes: 10}.encode())
	f.Add(snapResp{LogID: "ab", Seq: 9, Done: true, Keys: []string{"k"}, Vals: [][]byte{[]byte("12345678v")}}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodePullResp(b); err == nil {
			back, err := decodePullResp(r.encode())
			if err != nil || len(back.Entries) != len(r.Entries) {
				t.Fatalf("pull response does not round-trip: %v", err)
			}
		}
		if r, err := decodeSnapResp(b); err == nil && len(r.Keys) != len(r.Vals) {
			t.Fatal("keys and values differ in number")
		}
		_, _ = decodePullReq(b)
		_, _ = decodeSnapReq(b)
		_, _ = decodeEntry(b)
	})
}
