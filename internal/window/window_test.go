package window

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func at(t *testing.T, zone, value string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", value, loc)
	require.NoError(t, err)
	return v
}

// 2026-12-02 is a Wednesday; 2026-03-29 is the night Europe/Berlin moves to summer time
// (02:00 → 03:00) and 2026-10-25 the night it moves back (03:00 → 02:00).
func TestWindowAt(t *testing.T) {
	for _, tc := range []struct {
		name, window, zone, now string
		open                    bool
		next                    string // in zone: when it opens (closed) or closes (open)
	}{
		{"inside a day span", "Mon-Fri 09:00-17:00", "UTC", "2026-12-02 10:00", true, "2026-12-02 17:00"},
		{"the end is not inside", "Mon-Fri 09:00-17:00", "UTC", "2026-12-02 17:00", false, "2026-12-03 09:00"},
		{"the start is inside", "Mon-Fri 09:00-17:00", "UTC", "2026-12-02 09:00", true, "2026-12-02 17:00"},
		{"Friday evening waits for Monday", "Mon-Fri 09:00-17:00", "UTC", "2026-12-04 18:00", false, "2026-12-07 09:00"},
		{"across midnight, before it", "Mon-Fri 22:00-06:00", "UTC", "2026-12-02 23:00", true, "2026-12-03 06:00"},
		{"across midnight, after it", "Mon-Fri 22:00-06:00", "UTC", "2026-12-03 05:59", true, "2026-12-03 06:00"},
		{"a Friday night span runs into Saturday", "Fri 22:00-06:00", "UTC", "2026-12-05 03:00", true, "2026-12-05 06:00"},
		{"it belongs to the day it starts on", "Mon 22:00-06:00", "UTC", "2026-12-07 03:00", false, "2026-12-07 22:00"},
		{"a range over the weekend", "Fri-Mon 00:00-24:00", "UTC", "2026-12-06 12:00", true, "2026-12-08 00:00"},
		{"a list of days", "Sat,Sun 00:00-24:00", "UTC", "2026-12-02 12:00", false, "2026-12-05 00:00"},
		{"every day", "02:00-03:00", "UTC", "2026-12-02 12:00", false, "2026-12-03 02:00"},
		{"in its own zone", "Mon-Fri 22:00-06:00 Europe/Berlin", "Europe/Berlin", "2026-12-02 22:30", true, "2026-12-03 06:00"},
		{"its zone, not UTC, decides", "Wed 22:00-23:00 Europe/Berlin", "UTC", "2026-12-02 21:30", true, "2026-12-02 22:00"},
		{"spans follow on without a gap", "Mon-Fri 22:00-24:00; Tue-Sat 00:00-06:00", "UTC", "2026-12-02 23:00", true, "2026-12-03 06:00"},
		{"the earliest span opens next", "Sun 01:00-02:00; Thu 01:00-02:00", "UTC", "2026-12-02 12:00", false, "2026-12-03 01:00"},
		{"spring forward: the night is an hour shorter", "Sun 01:00-04:00 Europe/Berlin", "Europe/Berlin", "2026-03-29 03:30", true, "2026-03-29 04:00"},
		{"spring forward: opening in the gap opens at the jump", "Sun 02:30-05:00 Europe/Berlin", "UTC", "2026-03-28 12:00", false, "2026-03-29 01:00"},
		{"spring forward: a span wholly in the gap does not occur", "Sun 02:00-03:00 Europe/Berlin", "UTC", "2026-03-28 12:00", false, "2026-04-05 00:00"},
		{"spring forward: a span wholly in the gap, even half an hour", "Sun 02:00-02:30 Europe/Berlin", "UTC", "2026-03-29 00:50", false, "2026-04-05 00:00"},
		{"spring forward: ending in the gap ends at the jump", "Sun 01:00-02:30 Europe/Berlin", "UTC", "2026-03-29 00:59", true, "2026-03-29 01:00"},
		{"spring forward: a skipped week's span opens the week after", "Sun 02:00-03:00 Europe/Berlin", "UTC", "2027-03-21 03:00", false, "2027-04-04 00:00"},
		{"spring forward: another span is not hidden by the skipped one", "Mon-Fri 22:00-06:00 Europe/Berlin; Sun 02:00-03:00 Europe/Berlin", "Europe/Berlin", "2027-03-26 12:00", false, "2027-03-26 22:00"},
		{"fall back: a repeated hour opens at its first", "Sun 02:30-04:00 Europe/Berlin", "UTC", "2026-10-25 00:40", true, "2026-10-25 03:00"},
		{"fall back: wall clock hours still", "Sun 01:00-04:00 Europe/Berlin", "Europe/Berlin", "2026-10-25 03:30", true, "2026-10-25 04:00"},
		{"fall back: the next opening", "Sun 01:00-04:00 Europe/Berlin", "UTC", "2026-10-24 12:00", false, "2026-10-24 23:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Parse(tc.window)
			require.NoError(t, err)
			open, next := w.At(at(t, tc.zone, tc.now))
			assert.Equal(t, tc.open, open)
			assert.Equal(t, at(t, tc.zone, tc.next).UTC(), next.UTC())
		})
	}
}

func TestFallBackNightIsLonger(t *testing.T) {
	w, err := Parse("Sun 01:00-04:00 Europe/Berlin")
	require.NoError(t, err)
	open := at(t, "UTC", "2026-10-24 23:00") // 01:00 CEST
	_, until := w.At(open)
	assert.Equal(t, 4*time.Hour, until.Sub(open), "01:00-04:00 lasts four hours the night the clocks go back")
}

func TestNoWindowIsAlwaysOpen(t *testing.T) {
	w, err := Parse("  ")
	require.NoError(t, err)
	assert.True(t, w.IsZero())
	open, until := w.At(time.Now())
	assert.True(t, open)
	assert.True(t, until.IsZero())
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ window, says string }{
		{"Mon-Fri", "HH:MM-HH:MM"},
		{"Mon-Fri 9-17", "HH:MM-HH:MM"},
		{"Mon-Fri 09:00-17:60", "time of day"},
		{"Mon-Fri 24:00-02:00", "time of day"},
		{"Mon-Fri 25:00-26:00", "time of day"},
		{"Mon-Fri 09:00-09:00", "empty span"},
		{"Someday 09:00-17:00", "day names"},
		{"Mon-Fri 09:00-17:00 Mars/Olympus", "unknown time zone"},
		{"Mon-Fri 09:00-17:00 Local", "unknown time zone"},
		{"Mon-Fri 09:00-17:00 UTC extra", "HH:MM-HH:MM"},
		{strings.Repeat("Mon 01:00-02:00;", 17), "over the bound"},
		{strings.Repeat("x", 600), "over the bound"},
	} {
		_, err := Parse(tc.window)
		if assert.Error(t, err, tc.window) {
			assert.Contains(t, err.Error(), tc.says, tc.window)
		}
	}
}

func TestStringIsTheText(t *testing.T) {
	w, err := Parse("Sat,Sun 00:00-24:00 Europe/Berlin")
	require.NoError(t, err)
	assert.Equal(t, "Sat,Sun 00:00-24:00 Europe/Berlin", w.String())
}
