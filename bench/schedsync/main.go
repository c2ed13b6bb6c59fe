// Command schedsync-bench measures `redund schedsync` against rsync (daemon
// on loopback) on the same tree in the same run: initial copy (durable),
// one small file's latency, a one-byte change in a 100 MiB file, and the
// idle CPU of a watched tree. Run it through run.sh.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

type options struct {
	bin, work  string
	binBefore  string // a second redund binary measured in the same run (before/after)
	flips      int
	files      int
	total, big int64
	samples    int
	idle       time.Duration
	skipRsync  bool
	initial    int           // > 0: only the initial copy, this many rounds of rsync -a then redund
	settle     time.Duration // -initial-only: wait after removing an earlier run's copies
}

func main() {
	o := options{}
	flag.StringVar(&o.bin, "bin", "", "redund binary")
	flag.StringVar(&o.binBefore, "bin-before", "", "another redund binary (e.g. built from main) measured in the same run, after -bin")
	flag.IntVar(&o.flips, "flips", 20, "one-byte changes in the large file (redund and rsync -a each)")
	flag.StringVar(&o.work, "work", "", "work directory (needs about 3× the tree size free)")
	flag.IntVar(&o.files, "files", 10000, "files in the tree")
	flag.Int64Var(&o.total, "total", 1<<30, "bytes in the tree")
	flag.Int64Var(&o.big, "big", 100<<20, "size of the large file for the one-byte change")
	flag.IntVar(&o.samples, "samples", 50, "small-file latency samples")
	flag.DurationVar(&o.idle, "idle", 30*time.Second, "idle CPU measuring window")
	flag.BoolVar(&o.skipRsync, "skip-rsync", false, "measure redund only")
	flag.DurationVar(&o.settle, "settle", 90*time.Second, "-initial-only: wait this long after removing an earlier run's copies")
	flag.IntVar(&o.initial, "initial-only", 0, "only the initial copy: this many rounds, each `rsync -a` then redund (then -bin-before)")
	flag.Parse()
	if o.bin == "" || o.work == "" {
		fmt.Fprintln(os.Stderr, "usage: schedsync-bench -bin redund -work DIR [flags]")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// makeTree writes files random files totalling about total bytes into
// 100 directories (sizes between 0.5× and 1.5× the mean).
func makeTree(dir string, files int, total int64) error {
	rng := rand.New(rand.NewPCG(1, 1))
	src := rand.NewChaCha8([32]byte{1})
	mean := total / int64(files)
	buf := make([]byte, 2*mean+1)
	for i := range files {
		d := filepath.Join(dir, fmt.Sprintf("d%02d", i%100))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		n := mean/2 + rng.Int64N(mean+1)
		_, _ = src.Read(buf[:n])
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d.bin", i)), buf[:n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeRandom(path string, size int64, seed byte) error {
	src := rand.NewChaCha8([32]byte{seed})
	b := make([]byte, size)
	_, _ = src.Read(b)
	return os.WriteFile(path, b, 0o644)
}

func run(o options) error {
	src := filepath.Join(o.work, "src")
	if _, err := os.Stat(src); err != nil {
		logf("creating %d files, %d MiB in %s", o.files, o.total>>20, src)
		if err := makeTree(src, o.files, o.total); err != nil {
			return err
		}
	}
	for _, leftover := range []string{"lat", "big.bin", ".redund"} {
		_ = os.RemoveAll(filepath.Join(src, leftover)) // from an earlier run
	}
	if o.initial > 0 {
		return initialRounds(o, src)
	}
	r := &results{o: o}
	if !o.skipRsync {
		rs, err := startRsyncd(o.work)
		if err != nil {
			return err
		}
		defer rs.stop()
		if err := r.rsyncInitial(rs, src); err != nil {
			return err
		}
	}
	if err := r.redund(src); err != nil {
		return err
	}
	r.print()
	if o.binBefore != "" {
		ob := o
		ob.bin = o.binBefore
		rb := &results{o: ob, rs: r.rs, rsyncFsync: r.rsyncFsync, rsyncPlain: r.rsyncPlain,
			rsyncFsyncCmd: r.rsyncFsyncCmd, rsyncPlainCmd: r.rsyncPlainCmd, rsyncNoChange: r.rsyncNoChange, before: true,
			rsyncBig: r.rsyncBig, rsyncBigMax: r.rsyncBigMax, rsyncBigFsync: r.rsyncBigFsync, rsyncBigBytes: r.rsyncBigBytes,
			rsyncBigCmd: r.rsyncBigCmd}
		for _, leftover := range []string{"lat", "big.bin", ".redund"} {
			_ = os.RemoveAll(filepath.Join(src, leftover)) // the same tree as the first binary had
		}
		logf("the same with -bin-before %s", o.binBefore)
		if err := rb.redund(src); err != nil {
			return err
		}
		fmt.Printf("\nWith -bin-before (same run, same rsync figures):\n\n")
		rb.print()
	}
	return nil
}
