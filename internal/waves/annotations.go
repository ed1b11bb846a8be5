// annotations.go reads what users write to stage restarts: a workload's wave, an
// object's waves (label selectors), a wave's timeout; and names the other annotations
// of waves, holds and windows.

package waves

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cuscon/internal/labels"
)

// The annotations of waves, gates and windows.
const (
	// WaveAnnotation on a workload is its wave: a number from 0 to MaxWave.
	WaveAnnotation = "cuscon.dev/wave"
	// WavesAnnotation on a ConfigMap or Secret orders its consumers: label selectors
	// separated by ";", the first that a workload's labels match is its wave (1, 2, …).
	WavesAnnotation = "cuscon.dev/waves"
	// TimeoutAnnotation on a workload (or on the object) is how long its wave may take
	// to get healthy before the later ones are held (a Go duration).
	TimeoutAnnotation = "cuscon.dev/wave-timeout"
	// ResumeAnnotation on a held workload, set to the hold's id, restarts it without
	// waiting for the waves before it, once.
	ResumeAnnotation = "cuscon.dev/resume"
	// WindowAnnotation on a workload (or on the object) is its maintenance window
	// (package window).
	WindowAnnotation = "cuscon.dev/maintenance-window"
	// LastRestartAnnotation is written on a workload when cuscon restarts it: when, in
	// which wave, and for which keys of which object, used how.
	LastRestartAnnotation = "cuscon.dev/last-restart"
)

// Bounds on what a tenant writes: a wave number, and the selectors of an object's waves.
const (
	MaxWave      = 1000
	maxSelectors = 20
	maxWavesText = 2048
	// Rest is the wave of a workload no annotation places: after every numbered wave.
	Rest = MaxWave + 1
)

// WaveOf is the wave of a workload with labels and annotations (its own metadata's)
// for a change of an object whose waves annotation is objWaves: its own wave
// annotation, else the first of the object's selectors that its labels match, else
// Rest. An annotation that cannot be read is an error naming it.
func WaveOf(annotations, workloadLabels map[string]string, objWaves string) (int, error) {
	if v, ok := annotations[WaveAnnotation]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > MaxWave {
			return 0, fmt.Errorf("%s %q: want a number from 0 to %d", WaveAnnotation, v, MaxWave)
		}
		return n, nil
	}
	sels, err := ParseWaves(objWaves)
	if err != nil {
		return 0, err
	}
	for i, sel := range sels {
		if ok, _ := labels.Matches(sel, workloadLabels); ok {
			return i + 1, nil
		}
	}
	return Rest, nil
}

// ParseWaves reads an object's waves annotation: label selectors separated by ";"
// ("*" matches every workload).
func ParseWaves(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	if len(v) > maxWavesText {
		return nil, fmt.Errorf("%s: %d bytes, over the bound of %d", WavesAnnotation, len(v), maxWavesText)
	}
	parts := strings.Split(v, ";")
	if len(parts) > maxSelectors {
		return nil, fmt.Errorf("%s: %d selectors, over the bound of %d", WavesAnnotation, len(parts), maxSelectors)
	}
	var out []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "*" {
			p = ""
		} else if err := labels.Check(p); err != nil || p == "" {
			return nil, fmt.Errorf("%s: selector %q: want a label selector, or * for the rest", WavesAnnotation, p)
		}
		out = append(out, p)
	}
	return out, nil
}

// Timeout reads a wave timeout annotation; def when it is not set.
func Timeout(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive duration such as 10m", TimeoutAnnotation, v)
	}
	return d, nil
}

// WaveName is a wave as the annotations say it ("rest" for Rest).
func WaveName(w int) string {
	if w == Rest {
		return "rest"
	}
	return strconv.Itoa(w)
}
