package envflag

import (
	"bytes"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// values is a set of one flag of each type.
type values struct {
	s string
	b bool
	i int
	d time.Duration
}

func newSet(e map[string]string, out *bytes.Buffer) (*Set, *values) {
	v := &values{}
	s := New("tool", "Usage: tool [flags]", out, env(e))
	s.Group("Things")
	s.String(&v.s, "name", "TOOL_NAME", "def", "a name")
	s.Bool(&v.b, "on", "TOOL_ON", false, "a switch")
	s.Group("Timing")
	s.Int(&v.i, "count", "TOOL_COUNT", 3, "a count")
	s.Duration(&v.d, "wait", "TOOL_WAIT", time.Second, "a wait")
	return s, v
}

func TestATwinSetsTheDefaultAndTheCommandLineWins(t *testing.T) {
	s, v := newSet(map[string]string{"TOOL_NAME": "from-env", "TOOL_ON": "true", "TOOL_COUNT": "7", "TOOL_WAIT": "2m"}, &bytes.Buffer{})
	require.NoError(t, s.Parse([]string{"--count=9"}))
	assert.Equal(t, values{"from-env", true, 9, 2 * time.Minute}, *v)
	s, v = newSet(nil, &bytes.Buffer{})
	require.NoError(t, s.Parse(nil))
	assert.Equal(t, values{"def", false, 3, time.Second}, *v, "no twin: the default")
}

func TestATwinThatDoesNotParseIsAnError(t *testing.T) {
	for twin, bad := range map[string]string{"TOOL_ON": "perhaps", "TOOL_COUNT": "many", "TOOL_WAIT": "2"} {
		s, _ := newSet(map[string]string{twin: bad}, &bytes.Buffer{})
		assert.ErrorContains(t, s.Parse(nil), "env "+twin, twin)
	}
	s, _ := newSet(nil, &bytes.Buffer{})
	assert.ErrorContains(t, s.Parse([]string{"extra"}), `unexpected arguments: ["extra"]`)
}

func TestHelpListsTheFlagsByGroupWithTheirTwins(t *testing.T) {
	var out bytes.Buffer
	s, _ := newSet(nil, &out)
	assert.True(t, errors.Is(s.Parse([]string{"--help"}), flag.ErrHelp))
	assert.Equal(t, `Usage: tool [flags]

Things:
  --name string
      a name (env TOOL_NAME) (default "def")
  --on
      a switch (env TOOL_ON)

Timing:
  --count int
      a count (env TOOL_COUNT) (default "3")
  --wait duration
      a wait (env TOOL_WAIT) (default "1s")
`, out.String())
}

func TestAnAliasSetsTheSameValue(t *testing.T) {
	s, v := newSet(nil, &bytes.Buffer{})
	s.Alias("n", "name")
	require.NoError(t, s.Parse([]string{"-n", "short"}))
	assert.Equal(t, "short", v.s)
}

func TestAListIsReadAsReloaderReadsItsSlices(t *testing.T) {
	for _, c := range []struct {
		name string
		env  string
		args []string
		want []string
	}{
		{name: "unset", want: nil},
		{name: "one", args: []string{"--list=a"}, want: []string{"a"}},
		{name: "comma-separated", args: []string{"--list=a,b"}, want: []string{"a", "b"}},
		{name: "quoted, as Reloader's chart renders a selector", args: []string{`--list="env=test"`}, want: []string{"env=test"}},
		{name: "a comma inside quotes is one value", args: []string{`--list="a=b,c=d"`}, want: []string{"a=b,c=d"}},
		{name: "repeated: added", args: []string{"--list=a", "--list", "b"}, want: []string{"a", "b"}},
		{name: "the twin is the default", env: "x,y", want: []string{"x", "y"}},
		{name: "the flag replaces the twin", env: "x", args: []string{"--list=a"}, want: []string{"a"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New("tool", "Usage: tool", &bytes.Buffer{}, env(map[string]string{"TOOL_LIST": c.env}))
			var got []string
			s.List(&got, "list", "TOOL_LIST", "a list")
			require.NoError(t, s.Parse(c.args))
			assert.Equal(t, c.want, got)
		})
	}
	s := New("tool", "Usage: tool", &bytes.Buffer{}, env(nil))
	var got []string
	s.List(&got, "list", "", "a list")
	assert.ErrorContains(t, s.Parse([]string{`--list="a`}), "not a comma-separated list")
}

func TestIsSetTellsAGivenFlagFromItsDefault(t *testing.T) {
	s, _ := newSet(map[string]string{"TOOL_COUNT": "4"}, &bytes.Buffer{})
	require.NoError(t, s.Parse([]string{"--name=x"}))
	assert.True(t, s.IsSet("name"), "on the command line")
	assert.True(t, s.IsSet("count"), "by its twin")
	assert.False(t, s.IsSet("on"))
	assert.False(t, s.IsSet("wait"))
}
