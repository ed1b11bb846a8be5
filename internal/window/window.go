// Package window reads maintenance windows — "Mon-Fri 22:00-06:00 Europe/Berlin" — and
// says whether one is open at an instant and when it next opens or closes. Hours are wall
// clock in the window's time zone, so a window keeps its local hours across a change of
// daylight saving time (and is shorter or longer that night; a span wholly inside the
// hour the clocks skip does not occur that day). Pure: the caller
// says what time it is. Zones are the standard library's (the image ships Go's zone
// data and points ZONEINFO at it, so they resolve in a FROM scratch image too).
package window

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds on a window's text, which whoever may annotate a ConfigMap or a workload
// writes: each instant is checked against every span, so both stay small.
const (
	maxBytes = 512
	maxSpans = 16
)

// Window is a set of spans; it is open when any of them is. The zero Window is always
// open: no window was asked for.
type Window struct {
	spans []span
	text  string
}

// span is one recurring span: on days (of the day it starts), from start to end minutes
// past midnight in loc. An end at or before the start ends on the next day.
type span struct {
	days       [7]bool // by time.Weekday
	start, end int
	loc        *time.Location
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// Parse reads a window: spans separated by ";", each "[DAYS] HH:MM-HH:MM [ZONE]". DAYS
// are day names (Mon, Tue, …) and ranges of them, comma-separated ("Mon-Fri",
// "Sat,Sun"), every day when left out; ZONE is an IANA name ("Europe/Berlin"), UTC when
// left out; 24:00 ends a span at midnight. A span that crosses midnight ("22:00-06:00")
// belongs to the day it starts on. An empty text is no window (always open).
func Parse(text string) (Window, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Window{}, nil
	}
	if len(text) > maxBytes {
		return Window{}, fmt.Errorf("%d bytes, over the bound of %d", len(text), maxBytes)
	}
	parts := strings.Split(text, ";")
	if len(parts) > maxSpans {
		return Window{}, fmt.Errorf("%d spans, over the bound of %d", len(parts), maxSpans)
	}
	w := Window{text: text}
	for _, p := range parts {
		s, err := parseSpan(strings.Fields(p))
		if err != nil {
			return Window{}, fmt.Errorf("%q: %w", strings.TrimSpace(p), err)
		}
		w.spans = append(w.spans, s)
	}
	return w, nil
}

// parseSpan reads one span's fields.
func parseSpan(f []string) (span, error) {
	s := span{loc: time.UTC}
	hours := slices.IndexFunc(f, func(x string) bool { return strings.Contains(x, ":") && strings.Contains(x, "-") })
	if hours < 0 || hours > 1 || len(f) > hours+2 {
		return s, fmt.Errorf(`want "[DAYS] HH:MM-HH:MM [ZONE]"`)
	}
	if hours == 0 {
		s.days = [7]bool{true, true, true, true, true, true, true}
	} else if err := s.parseDays(f[0]); err != nil {
		return s, err
	}
	from, to, _ := strings.Cut(f[hours], "-")
	var err error
	if s.start, err = clock(from, false); err != nil {
		return s, err
	}
	if s.end, err = clock(to, true); err != nil {
		return s, err
	}
	if s.start == s.end {
		return s, fmt.Errorf("%s: an empty span (00:00-24:00 is a whole day)", f[hours])
	}
	if len(f) == hours+2 {
		if s.loc, err = time.LoadLocation(f[hours+1]); err != nil || f[hours+1] == "Local" {
			return s, fmt.Errorf("unknown time zone %q", f[hours+1])
		}
	}
	return s, nil
}

// parseDays reads "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri".
func (s *span) parseDays(v string) error {
	for _, part := range strings.Split(v, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[strings.ToLower(from)]
		b, ok2 := dayNames[strings.ToLower(to)]
		if !ok || isRange && !ok2 {
			return fmt.Errorf("%q: want day names such as Mon-Fri or Sat,Sun", v)
		}
		if !isRange {
			b = a
		}
		for d := a; ; d = (d + 1) % 7 { // "Fri-Mon" wraps over the weekend
			s.days[d] = true
			if d == b {
				break
			}
		}
	}
	return nil
}

// wallClock is the instant of a wall-clock time (minutes past midnight of a day) in loc,
// chosen the same way whatever the zone: in a time the clocks skip, the instant they
// jump (so a span wholly inside the skipped hour does not occur that day); in a time
// they repeat, the first of the two.
func wallClock(y int, m time.Month, d, minutes int, loc *time.Location) time.Time {
	want := time.Date(y, m, d, 0, minutes, 0, 0, time.UTC) // the wall clock, comparable
	read := func(u time.Time) time.Time {
		l := u.In(loc)
		yy, mm, dd := l.Date()
		h, mi, sec := l.Clock()
		return time.Date(yy, mm, dd, h, mi, sec, 0, time.UTC)
	}
	t := time.Date(y, m, d, 0, minutes, 0, 0, loc)
	if !read(t).Equal(want) { // skipped: the first instant that reads later
		for u := t.Add(-3 * time.Hour); u.Before(t.Add(3 * time.Hour)); u = u.Add(time.Minute) {
			if !read(u).Before(want) {
				return u
			}
		}
	}
	for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} { // repeated: the first
		if e := t.Add(-back); read(e).Equal(want) {
			return e
		}
	}
	return t
}

// clock reads "HH:MM" as minutes past midnight; 24:00 only as an end.
func clock(v string, end bool) (int, error) {
	h, m, ok := strings.Cut(v, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	switch {
	case !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59:
	case hh < 24, hh == 24 && mm == 0 && end:
		return hh*60 + mm, nil
	}
	return 0, fmt.Errorf("%q: want a time of day HH:MM", v)
}

// String is the window as it was written.
func (w Window) String() string { return w.text }

// IsZero reports whether no window was asked for.
func (w Window) IsZero() bool { return len(w.spans) == 0 }

// At reports whether w is open at now and, when it is closed, when it next opens; when
// it is open, until when (the end of the span now open, or of the spans that follow on
// without a gap). The zero Window is open for ever (until is the zero time).
func (w Window) At(now time.Time) (open bool, next time.Time) {
	if w.IsZero() {
		return true, time.Time{}
	}
	if end, ok := w.openUntil(now); ok {
		for i := 0; i < 16; i++ { // spans that follow on without a gap
			later, ok := w.openUntil(end)
			if !ok || !later.After(end) {
				break
			}
			end = later
		}
		return true, end
	}
	for _, s := range w.spans {
		if at := s.nextOpen(now); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return false, next
}

// Describe says w and how it stands at now, as `cuscon plan` shows it: "TEXT (open until
// T)" or "TEXT (closed until T)"; "" for no window.
func (w Window) Describe(now time.Time) string {
	if w.IsZero() {
		return ""
	}
	open, next := w.At(now)
	state := "closed"
	if open {
		state = "open"
	}
	return fmt.Sprintf("%s (%s until %s)", w.text, state, next.UTC().Format(time.RFC3339))
}

// openUntil reports whether a span of w is open at now, and until when.
func (w Window) openUntil(now time.Time) (time.Time, bool) {
	var until time.Time
	for _, s := range w.spans {
		for d := -1; d <= 0; d++ { // a span that began yesterday may still be open
			from, to, ok := s.on(now, d)
			if ok && !now.Before(from) && now.Before(to) && to.After(until) {
				until = to
			}
		}
	}
	return until, !until.IsZero()
}

// nextOpen is when s next opens after now: within fifteen days, as every span opens
// weekly, or a week later when the clocks skip its hours.
func (s span) nextOpen(now time.Time) time.Time {
	for d := 0; d <= 15; d++ {
		if from, _, ok := s.on(now, d); ok && from.After(now) {
			return from
		}
	}
	return time.Time{} // not reached: a span has at least one day, and occurs in two weeks
}

// on is s's occurrence on the day d days after now's date in s's zone, if s runs that
// day: when it opens and when it closes, wall clock in the zone.
func (s span) on(now time.Time, d int) (from, to time.Time, ok bool) {
	y, m, day := now.In(s.loc).Date()
	noon := time.Date(y, m, day+d, 12, 0, 0, 0, s.loc)
	if !s.days[noon.Weekday()] {
		return from, to, false
	}
	y, m, day = noon.Date()
	from = wallClock(y, m, day, s.start, s.loc)
	endDay := day
	if s.end <= s.start {
		endDay++
	}
	to = wallClock(y, m, endDay, s.end, s.loc)
	return from, to, to.After(from) // empty when wholly inside a skipped hour
}
