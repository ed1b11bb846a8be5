// mode_test.go tests what a check is given: the changes since the last one, with what
// each object was before them, and a view of the namespace that leaves the changes
// still waiting to the next check.

package reloader

import (
	"io"
	"log/slog"
	"testing"

	"cuscon/internal/kube"
	"cuscon/internal/telemetry"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestMode is a mode watching ConfigMaps of ns, with no API behind it.
func newTestMode(t *testing.T) (*Mode, kube.Scope) {
	scope := kube.Scope{Resource: kube.ConfigMaps, Namespace: "ns"}
	m := New(nil, Config{Scopes: []kube.Scope{scope}}, nil, nil, func() bool { return true }, nil,
		telemetry.NewMetrics("test"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	return m, scope
}

// cm summarizes ConfigMap name of ns with data a=v.
func cm(name, v string) Seen {
	return Summarize(&kube.Object{Resource: kube.ConfigMaps, Metadata: kube.ObjectMeta{Namespace: "ns", Name: name}, Data: map[string]string{"a": v}},
		DefaultKeys(), nil, false)
}

func TestAChangeWaitingForTheNextCheckIsLeftToIt(t *testing.T) {
	m, scope := newTestMode(t)
	m.Synced(scope, []Seen{cm("cfg", "1")})
	taken := m.work["ns"] // the check under way took the sweep
	delete(m.work, "ns")
	require.NotNil(t, taken)

	m.Changed("MODIFIED", cm("cfg", "2"))
	snap := m.snapshot("ns")
	info, _ := snap.get(kube.ConfigMaps, "cfg")
	assert.Equal(t, cm("cfg", "1").info.d.full, info.d.full, "the check under way sees cfg as it was before the change it has not taken")
	assert.Equal(t, cm("cfg", "1").info.d.full, m.work["ns"].changed["configmaps/ns/cfg"].was.full, "the next check compares with it")

	m.Changed("ADDED", cm("new", "1"))
	_, there := m.snapshot("ns").get(kube.ConfigMaps, "new")
	assert.False(t, there, "created after the work was taken: absent for the check under way")
}

func TestCreatedThenChangedBeforeACheckKeepsWhatItWasCreatedWith(t *testing.T) {
	m, scope := newTestMode(t)
	m.Synced(scope, nil)
	m.Changed("ADDED", cm("cfg", "1"))
	m.Changed("MODIFIED", cm("cfg", "2"))
	m.Changed("MODIFIED", cm("cfg", "3"))
	c := m.work["ns"].changed["configmaps/ns/cfg"]
	assert.Nil(t, c.was, "absent before")
	require.NotNil(t, c.first)
	assert.Equal(t, cm("cfg", "1").info.d.full, c.first.full, "what it was created with, not what came after")
}
