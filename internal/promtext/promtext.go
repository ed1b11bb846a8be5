// Package promtext is a strict reader of the Prometheus text exposition format
// (version 0.0.4), for cuscon's tests: it refuses anything a lenient scraper would let
// pass, so that /metrics is proven well-formed rather than merely readable.
package promtext

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Sample is one sample line.
type Sample struct {
	Family, Name string
	Labels       map[string]string
	Value        float64
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"$`)
)

// Parse reads exposition text and returns its samples, or the first deviation: a
// family without exactly one HELP and one TYPE before its samples, a sample of an
// undeclared family or with a suffix its type does not allow, a counter not named
// _total, bad label syntax or escapes, an unparsable value, or histogram buckets that
// are not ascending, not cumulative, or do not end at +Inf equal to _count.
func Parse(text string) ([]Sample, error) {
	types := map[string]string{}
	helps := map[string]bool{}
	var samples []Sample
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ := strings.Cut(rest, " ")
			switch {
			case !metricName.MatchString(name):
				return nil, fmt.Errorf("line %d: bad metric name %q", n, name)
			case helps[name]:
				return nil, fmt.Errorf("line %d: second HELP for %s", n, name)
			}
			helps[name] = true
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			switch {
			case typ != "counter" && typ != "gauge" && typ != "histogram":
				return nil, fmt.Errorf("line %d: type %q", n, typ)
			case types[name] != "":
				return nil, fmt.Errorf("line %d: second TYPE for %s", n, name)
			case !helps[name]:
				return nil, fmt.Errorf("line %d: TYPE before HELP for %s", n, name)
			case typ == "counter" && !strings.HasSuffix(name, "_total"):
				return nil, fmt.Errorf("line %d: counter %s does not end in _total", n, name)
			}
			types[name] = typ
			continue
		}
		s, err := parseSample(line, types)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		samples = append(samples, s)
	}
	return samples, checkHistograms(types, samples)
}

// parseSample reads one sample line of a declared family.
func parseSample(line string, types map[string]string) (Sample, error) {
	m := sampleLine.FindStringSubmatch(line)
	if m == nil {
		return Sample{}, fmt.Errorf("neither comment nor sample: %q", line)
	}
	s := Sample{Name: m[1], Family: m[1], Labels: map[string]string{}}
	if types[s.Family] == "" {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(s.Name, suffix); ok && types[base] == "histogram" {
				s.Family = base
			}
		}
	}
	if types[s.Family] == "" {
		return s, fmt.Errorf("sample of undeclared family %s", s.Name)
	}
	if m[2] != "" {
		for _, pair := range splitLabels(m[2][1 : len(m[2])-1]) {
			lm := labelPair.FindStringSubmatch(pair)
			if lm == nil {
				return s, fmt.Errorf("bad label %q", pair)
			}
			s.Labels[lm[1]] = lm[2]
		}
	}
	v, err := strconv.ParseFloat(m[3], 64)
	if err != nil {
		return s, fmt.Errorf("value %q: %w", m[3], err)
	}
	s.Value = v
	return s, nil
}

// splitLabels splits a label list on commas outside quoted values.
func splitLabels(s string) []string {
	var parts []string
	inQuote, escaped, start := false, false, 0
	for i, c := range s {
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// checkHistograms checks each histogram series' buckets.
func checkHistograms(types map[string]string, samples []Sample) error {
	type key struct{ family, labels string }
	buckets := map[key][][2]float64{}
	counts := map[key]float64{}
	for _, s := range samples {
		if types[s.Family] != "histogram" {
			continue
		}
		rest := map[string]string{}
		for k, v := range s.Labels {
			if k != "le" {
				rest[k] = v
			}
		}
		k := key{s.Family, fmt.Sprint(rest)}
		switch s.Name {
		case s.Family + "_bucket":
			le, err := strconv.ParseFloat(s.Labels["le"], 64)
			if err != nil {
				return fmt.Errorf("%s: le %q", s.Family, s.Labels["le"])
			}
			buckets[k] = append(buckets[k], [2]float64{le, s.Value})
		case s.Family + "_count":
			counts[k] = s.Value
		}
	}
	for k, bs := range buckets {
		if !slices.IsSortedFunc(bs, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) }) {
			return fmt.Errorf("%v: le not ascending", k)
		}
		for i := 1; i < len(bs); i++ {
			if bs[i][1] < bs[i-1][1] {
				return fmt.Errorf("%v: buckets not cumulative", k)
			}
		}
		last := bs[len(bs)-1]
		if !math.IsInf(last[0], 1) || last[1] != counts[k] {
			return fmt.Errorf("%v: last bucket must be +Inf and equal _count", k)
		}
	}
	return nil
}

// Value returns the value of the first sample named name whose labels include the
// given pairs (key, value, ...), or 0.
func Value(samples []Sample, name string, labels ...string) float64 {
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && s.Labels[labels[i]] == labels[i+1]
		}
		if match {
			return s.Value
		}
	}
	return 0
}
