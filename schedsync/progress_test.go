package schedsync

import (
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

func TestProgressString(t *testing.T) {
	for _, tc := range []struct {
		p    Progress
		want string
	}{
		{Progress{FilesDone: 3, FilesTotal: 10, BytesDone: 512 << 20, BytesTotal: 1 << 30, Rate: 64 << 20, ETA: 8},
			"50% of 1.0 GiB, 64.0 MiB/s, ETA 8s, 3/10 files"},
		{Progress{FilesTotal: 4, BytesTotal: 100, ETA: -1}, "0% of 100 B, 0 B/s, ETA ?, 0/4 files"},
		{Progress{FilesDone: 2, FilesTotal: 4, ETA: 1.5}, "50% of 0 B, 0 B/s, ETA 1s, 2/4 files"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.p.String(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	p := newProgress([]Entry{{Size: 1000}, {Size: 3000}})
	p.bytesDone.Add(1000)
	p.filesDone.Add(1)
	time.Sleep(10 * time.Millisecond) // sleep: some elapsed time for a rate
	v := p.view()
	if v.BytesTotal != 4000 || v.FilesTotal != 2 || v.Rate <= 0 || v.ETA <= 0 || v.ETA > 3*v.Elapsed+1 {
		t.Fatalf("view %+v", v)
	}
}

// serveAdmin serves n's status and actions on a loopback admin address.
func serveAdmin(t *testing.T, n *testNode) string {
	t.Helper()
	srv := adminapi.NewServer("schedsync run", "test", nil, slog.New(slog.DiscardHandler))
	n.Register(srv, "")
	must(t, srv.Listen("127.0.0.1:0"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv.Addr()
}

// servedProgress reads details.progress from the status the node serves.
func servedProgress(t *testing.T, addr string) (status.Document, *Progress) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rep, err := adminapi.Fetch(ctx, addr)
	if err != nil || len(rep.Instances) != 1 {
		return status.Document{}, nil
	}
	d := rep.Instances[0]
	raw, ok := d.Details["progress"]
	if !ok {
		return d, nil
	}
	b, _ := json.Marshal(raw)
	var p Progress
	must(t, json.Unmarshal(b, &p))
	return d, &p
}

// TestProgressShown: during a transfer the status carries files and bytes
// done of total, rate and ETA (JSON details.progress, the reason that
// `redund status` shows, `redund schedsync status [--watch]`); it goes
// once the transfer is over. The transfer is held halfway by the primary.
func TestProgressShown(t *testing.T) {
	f := newFake(t)
	big := bigData(4<<20, 5)
	f.put(Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(big)), Mode: 0o644, Hash: contentSum(big)}, big)
	f.put(Entry{Path: "small.txt", Kind: KindFile, Size: 5, Mode: 0o644, Hash: contentSum([]byte("small"))}, []byte("small"))
	release := f.holdHalf("big.bin")
	t.Cleanup(release)
	s := startSecondaryOf(t, f, &recLog{})
	addr := serveAdmin(t, s)
	var d status.Document
	var p *Progress
	testutil.Eventually(t, 10*time.Second, "progress halfway through big.bin", func() bool {
		d, p = servedProgress(t, addr)
		return p != nil && p.BytesDone >= int64(len(big)/2)
	})
	if p.FilesTotal != 2 || p.FilesDone != 0 || p.BytesTotal != int64(len(big))+5 || p.BytesDone != int64(len(big)/2) ||
		p.Rate <= 0 || p.ETA < 0 {
		t.Fatalf("progress %+v", p)
	}
	if State(d.State) != StateConnecting || !strings.HasPrefix(d.Reason, "50% of 4.0 MiB, ") || !strings.HasSuffix(d.Reason, ", 0/2 files") {
		t.Fatalf("status %s %q", d.State, d.Reason)
	}
	if !testing.Short() {
		checkProgressCLI(t, addr)
	}
	release()
	testutil.Eventually(t, 10*time.Second, "Synced, no progress", func() bool {
		d, p = servedProgress(t, addr)
		return State(d.State) == StateSynced && p == nil
	})
}

// checkProgressCLI: the commands an operator runs show the progress.
func checkProgressCLI(t *testing.T, addr string) {
	t.Helper()
	needBinary(t)
	out, _ := exec.Command(redundBin, "schedsync", "status", "--admin", addr).Output()
	if !strings.Contains(string(out), "progress: 50% of 4.0 MiB, ") {
		t.Fatalf("schedsync status:\n%s", out)
	}
	out, _ = exec.Command(redundBin, "status", "--endpoint", addr).Output()
	if !strings.Contains(string(out), "50% of 4.0 MiB") {
		t.Fatalf("redund status:\n%s", out)
	}
	cmd := exec.Command(redundBin, "schedsync", "status", "--watch", "--admin", addr)
	var buf testutil.Buffer
	cmd.Stdout = &buf
	must(t, cmd.Start())
	testutil.Eventually(t, 10*time.Second, "two frames", func() bool { return strings.Count(buf.String(), "progress: 50% of") >= 2 })
	must(t, cmd.Process.Signal(syscall.SIGINT))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("status --watch stopped by SIGINT: %v\n%s", err, buf.String())
	}
}
