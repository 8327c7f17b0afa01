package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// progress draws a one-line progress bar on a terminal. It is a no-op when
// the output is not a terminal, so logs and CI output stay clean.
type progress struct {
	w       io.Writer
	label   string
	start   time.Time
	mu      sync.Mutex
	last    time.Time
	enabled bool
	drawn   bool
}

func newProgress(w io.Writer, enabled bool, label string) *progress {
	return &progress{w: w, label: label, start: time.Now(), enabled: enabled}
}

func (p *progress) update(done, total int64) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last = now
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 0.001)
	const width = 30
	bar := ""
	if total > 0 {
		n := int(float64(width) * float64(min(done, total)) / float64(total))
		for i := 0; i < width; i++ {
			if i < n {
				bar += "█"
			} else {
				bar += "░"
			}
		}
		fmt.Fprintf(p.w, "\r%s %s %d/%d (%.0f/s)   ", p.label, bar, done, total, rate)
	} else {
		fmt.Fprintf(p.w, "\r%s %d (%.0f/s)   ", p.label, done, rate)
	}
	p.drawn = true
}

func (p *progress) finish() {
	if p.enabled && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
