package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
)

func flipByte(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		f.Close()
		return err
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// waitSameMtime waits until b has a's size and mtime (the secondary
// installs files by rename, so then it has all of it).
func waitSameMtime(a, b string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		fa, err1 := os.Stat(a)
		fb, err2 := os.Stat(b)
		if err1 == nil && err2 == nil && fa.Size() == fb.Size() && fa.ModTime().Equal(fb.ModTime()) {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("%s did not reach the secondary", b)
}

func hashOf(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	_, _ = io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// results holds every figure of one run.
type results struct {
	o                                     options
	rs                                    *rsyncd
	rsyncFsync, rsyncPlain, rsyncNoChange time.Duration
	rsyncFsyncCmd, rsyncPlainCmd          string
	scan, initial                         time.Duration
	lat, bigTimes                         []time.Duration
	bigTime, rsyncBig, rsyncBigFsync      time.Duration
	bigMax, rsyncBigMax                   time.Duration
	before                                bool    // measuring -bin-before: rsync's figures are the first binary's
	overflows                             float64 // redund_schedsync_watch_overflows_total of both nodes after the copy
	bigSent, bigTotal, rsyncBigBytes      int64
	rsyncBigCmd                           string
	idleP, idleS                          float64
	initialCPUP, initialCPUS              float64 // utime+stime during the initial copy, seconds
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(float64(len(l)-1) * p)
	return l[i]
}

func (r *results) print() {
	for _, c := range []*string{&r.rsyncFsyncCmd, &r.rsyncPlainCmd, &r.rsyncBigCmd} {
		*c = strings.ReplaceAll(*c, r.o.work, "$BENCH_DIR")
		*c = regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(*c, "127.0.0.1:PORT")
	}
	fmt.Printf("| measure | redund | rsync | ratio |\n| --- | --- | --- | --- |\n")
	ratio := func(a, b time.Duration) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", a.Seconds()/b.Seconds())
	}
	fmt.Printf("| initial copy, durable (%d files, %d MiB) | %.2f s | %.2f s (`%s`) | %s |\n", r.o.files, r.o.total>>20,
		r.initial.Seconds(), r.rsyncFsync.Seconds(), r.rsyncFsyncCmd, ratio(r.initial, r.rsyncFsync))
	fmt.Printf("| initial copy, CPU time (utime+stime) | primary %.2f s, secondary %.2f s | - | - |\n",
		r.initialCPUP, r.initialCPUS)
	fmt.Printf("| initial copy vs plain rsync (not durable) | %.2f s | %.2f s (`%s`) | %s |\n",
		r.initial.Seconds(), r.rsyncPlain.Seconds(), r.rsyncPlainCmd, ratio(r.initial, r.rsyncPlain))
	fmt.Printf("| primary's first scan (hash every file, not in the copy time) | %.2f s | - | - |\n", r.scan.Seconds())
	fmt.Printf("| rsync no-change run | - | %.2f s | - |\n", r.rsyncNoChange.Seconds())
	fmt.Printf("| one small file, write → on secondary (%d samples) | median %s, p99 %s | - | - |\n", len(r.lat),
		pct(r.lat, 0.5).Round(time.Millisecond), pct(r.lat, 0.99).Round(time.Millisecond))
	fmt.Printf("| watcher overflows during the copy (both nodes) | %v | - | - |\n", r.overflows)
	fmt.Printf("| one byte in %d MiB: time write → on secondary (durable), median of %d (max) | %s (%s) | `rsync -a` %s (%s), with `--fsync` %s | %s, %s |\n",
		r.o.big>>20, len(r.bigTimes), r.bigTime.Round(time.Millisecond), r.bigMax.Round(time.Millisecond),
		r.rsyncBig.Round(time.Millisecond), r.rsyncBigMax.Round(time.Millisecond),
		r.rsyncBigFsync.Round(time.Millisecond), ratio(r.bigTime, r.rsyncBig), ratio(r.bigTime, r.rsyncBigFsync))
	br := "-"
	if r.rsyncBigBytes > 0 {
		br = fmt.Sprintf("%.2f", float64(r.bigTotal)/float64(r.rsyncBigBytes))
	}
	fmt.Printf("| one byte in %d MiB: bytes (signature + delta) | %d (delta %d) | %d (`%s`, sent+received) | %s |\n",
		r.o.big>>20, r.bigTotal, r.bigSent, r.rsyncBigBytes, r.rsyncBigCmd, br)
	fmt.Printf("| idle CPU, %d files, %s window | primary %.2f%%, secondary %.2f%% | - | - |\n", r.o.files, r.o.idle, r.idleP, r.idleS)
}
