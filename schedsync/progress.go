package schedsync

import (
	"fmt"
	"sync/atomic"
	"time"
)

// progress follows one batch's transfer: files and bytes to put in place,
// and how many are, for the status (like rsync --info=progress2).
type progress struct {
	started    time.Time
	filesTotal int64
	bytesTotal int64
	filesDone  atomic.Int64
	bytesDone  atomic.Int64
}

// Progress is the status view of a transfer in flight (details.progress).
type Progress struct {
	FilesDone  int64   `json:"files_done"`
	FilesTotal int64   `json:"files_total"`
	BytesDone  int64   `json:"bytes_done"`
	BytesTotal int64   `json:"bytes_total"`
	Rate       float64 `json:"rate_bytes_s"` // average since the transfer started
	ETA        float64 `json:"eta_s"`        // -1 while unknown
	Elapsed    float64 `json:"elapsed_s"`
}

func newProgress(files []Entry) *progress {
	p := &progress{started: time.Now(), filesTotal: int64(len(files))}
	for _, f := range files {
		p.bytesTotal += f.Size
	}
	return p
}

// view reads p now (nil for no transfer).
func (p *progress) view() *Progress {
	if p == nil {
		return nil
	}
	v := &Progress{FilesDone: p.filesDone.Load(), FilesTotal: p.filesTotal, BytesDone: min(p.bytesDone.Load(), p.bytesTotal),
		BytesTotal: p.bytesTotal, Elapsed: time.Since(p.started).Seconds(), ETA: -1}
	if v.Elapsed > 0 {
		v.Rate = float64(v.BytesDone) / v.Elapsed
	}
	switch {
	case v.BytesTotal > 0 && v.Rate > 0:
		v.ETA = float64(v.BytesTotal-v.BytesDone) / v.Rate
	case v.BytesTotal == 0 && v.FilesDone > 0:
		v.ETA = float64(v.FilesTotal-v.FilesDone) * v.Elapsed / float64(v.FilesDone)
	}
	return v
}

// String is the progress in one line, most telling first (the status
// table cuts long reasons): "42% of 1.0 GiB, 45 MiB/s, ETA 20s, 1234/10000 files".
func (v *Progress) String() string {
	pct := 100.0
	if v.BytesTotal > 0 {
		pct = 100 * float64(v.BytesDone) / float64(v.BytesTotal)
	} else if v.FilesTotal > 0 {
		pct = 100 * float64(v.FilesDone) / float64(v.FilesTotal)
	}
	eta := "ETA ?"
	if v.ETA >= 0 {
		eta = "ETA " + (time.Duration(v.ETA) * time.Second).String()
	}
	return fmt.Sprintf("%.0f%% of %s, %s/s, %s, %d/%d files", pct, sizeString(v.BytesTotal),
		sizeString(int64(v.Rate)), eta, v.FilesDone, v.FilesTotal)
}

// sizeString prints a byte count in binary units: 512 B, 3.0 MiB.
func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
