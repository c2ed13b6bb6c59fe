package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// initialRounds measures the initial copy only, side by side: each round
// runs plain `rsync -a` (no --fsync), then redund's durable copy (then the
// -bin-before binary's), one after the other on the same tree, and prints
// one row per round with the load average at its start. Every copy
// starts on a clean page cache (sync before it, outside its time).
//
// Every copy goes to a new directory and nothing is deleted while copies
// are measured: on ext4 without a journal the inode allocator skips inodes
// freed in the last 60 s (6 min while their inode table block is dirty),
// scanning past each of them for every new file, so creating 10,000 files
// right after deleting 10,000 costs seconds of CPU (measured here: 0.37 s
// into a quiet file system, 3.7-6.3 s after a deletion) and the figure
// would depend on what the bench itself deleted before. The copies of a
// run are removed at the start of the next one, which then waits.
func initialRounds(o options, src string) error {
	copies := filepath.Join(o.work, "copies")
	if _, err := os.Stat(copies); err == nil {
		logf("removing the copies of an earlier run, then waiting %s (see initialRounds)", o.settle)
		if err := os.RemoveAll(copies); err != nil {
			return err
		}
		_ = exec.Command("sync").Run()
		time.Sleep(o.settle)
	}
	// The first round's rsync read the source from the disk while every
	// later copy found it in the page cache (rsync took 4.8-7.3 s in
	// round 1, 2.4-2.9 s after): every copy starts from a cached source.
	if err := readAll(src); err != nil {
		return err
	}
	rs, err := startRsyncd(o.work)
	if err != nil {
		return err
	}
	defer rs.stop()
	bins := []string{o.bin}
	if o.binBefore != "" {
		bins = append(bins, o.binBefore)
	}
	fmt.Printf("| round | load (1, 5, 15 min) | `rsync -a` | redund durable | ratio | CPU primary / secondary |")
	if len(bins) > 1 {
		fmt.Printf(" -bin-before durable | ratio | CPU primary / secondary |")
	}
	fmt.Printf("\n| --- | --- | --- | --- | --- | --- |")
	if len(bins) > 1 {
		fmt.Printf(" --- | --- | --- |")
	}
	fmt.Println()
	for i := range o.initial {
		load, _ := os.ReadFile("/proc/loadavg")
		_ = exec.Command("sync").Run()
		rel := fmt.Sprintf("rsync-%d/", i+1) // inside the daemon's module (rs.dst)
		d, _, cmd, err := rs.push("-a", "--exclude=/.redund", src+"/", rs.url(rel))
		if err != nil {
			return err
		}
		logf("%s: %s", cmd, d)
		row := fmt.Sprintf("| %d | %s | %.2f s |", i+1, strings.Join(strings.Fields(string(load))[:3], ", "), d.Seconds())
		for j, bin := range bins {
			ob := o
			ob.bin = bin
			r := &results{o: ob}
			_ = os.RemoveAll(filepath.Join(src, ".redund"))
			// rsync leaves its copy in the page cache: without this sync
			// the first redund's syncfs wrote rsync's 1 GiB as well as its
			// own (seconds of the secondary's CPU and wall time)
			_ = exec.Command("sync").Run()
			if err := r.initialCopy(src, filepath.Join(copies, fmt.Sprintf("redund-%d-%d", i+1, j))); err != nil {
				return err
			}
			row += fmt.Sprintf(" %.2f s | %.2f | %.2f / %.2f s |", r.initial.Seconds(), r.initial.Seconds()/d.Seconds(),
				r.initialCPUP, r.initialCPUS)
		}
		fmt.Println(row)
	}
	// rsync's copies live in its module: moved next to redund's, removed
	// with them by the next run
	return os.Rename(rs.dst, filepath.Join(copies, "rsync"))
}

// readAll reads every regular file under dir once.
func readAll(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, f)
		return err
	})
}

// initialCopy starts both nodes, measures the copy into dst and stops them.
func (res *results) initialCopy(src, dst string) error {
	p, s, err := res.startCopy(src, dst)
	if s != nil {
		s.stop()
	}
	if p != nil {
		p.stop()
	}
	return err
}
