package assemble

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Options configures Configure, Initramfs and ApplySteps. The zero value
// is usable: computed preinst order, bwrap if it works, output discarded
// unless a command fails.
type Options struct {
	// PreinstOrder lists packages ("name" or "name:arch") in the order
	// their preinsts run, e.g. the resolver's install order. Unpacked
	// packages it does not name run afterwards in the order Configure
	// computes from Pre-Depends. Nil: computed for all.
	PreinstOrder []string
	// DebconfSelections, if set, is fed to debconf-set-selections in the
	// root before dpkg --configure (debconf must be unpacked).
	DebconfSelections string
	// InitramfsArgs are dracut's arguments (treefile initramfs-args);
	// nil means --no-hostonly. initramfs-tools ignores them.
	InitramfsArgs []string
	// NoInitramfs makes Initramfs only place vmlinuz (treefile no-initramfs).
	NoInitramfs bool
	// Sandbox chooses the confinement; SandboxAuto prefers bwrap.
	Sandbox SandboxMode
	// Output receives every sandboxed command's output as it runs
	// (verbose mode); nil discards it (errors still carry the tail).
	Output io.Writer
	// Logger receives progress at Info and details at Debug; nil: slog.Default().
	Logger *slog.Logger
	// Timings, if set, gets one entry per phase run.
	Timings *Timings
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// phase times f under name in o.Timings.
func (o *Options) phase(name string, f func() error) error {
	start := time.Now()
	err := f()
	if o.Timings != nil {
		o.Timings.Add(name, time.Since(start))
	}
	return err
}

// Timings records how long each phase took, for a command's summary line.
// It is safe for concurrent use.
type Timings struct {
	mu     sync.Mutex
	Phases []Phase
}

// Phase is one timed step ("preinst", "configure", "initramfs", "units", ...).
type Phase struct {
	Name     string
	Duration time.Duration
}

// Add appends a phase; a repeated name adds to the earlier entry.
func (t *Timings) Add(name string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.Phases {
		if t.Phases[i].Name == name {
			t.Phases[i].Duration += d
			return
		}
	}
	t.Phases = append(t.Phases, Phase{name, d})
}

// Total is the sum of all phases.
func (t *Timings) Total() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var sum time.Duration
	for _, p := range t.Phases {
		sum += p.Duration
	}
	return sum
}

// String is "preinst 0.4s, configure 4.7s, initramfs 9.1s".
func (t *Timings) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := make([]string, len(t.Phases))
	for i, p := range t.Phases {
		parts[i] = fmt.Sprintf("%s %.1fs", p.Name, p.Duration.Seconds())
	}
	return strings.Join(parts, ", ")
}
