package kube

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// podOf is a pod called name, changed by edit.
func podOf(name string, edit func(*Pod)) *Pod {
	p := &Pod{Metadata: ObjectMeta{Name: name}}
	if edit != nil {
		edit(p)
	}
	return p
}

func TestAPodIsReadyOnlyWhenItSaysSoAndIsNotLeaving(t *testing.T) {
	gone := "2026-11-23T00:00:00Z"
	cond := func(status string) func(*Pod) {
		return func(p *Pod) {
			p.Status.Conditions = append(p.Status.Conditions, struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			}{"Ready", status})
		}
	}
	assert.True(t, podOf("a", cond("True")).Ready())
	assert.False(t, podOf("b", cond("False")).Ready())
	assert.False(t, podOf("c", nil).Ready(), "no condition yet")
	leaving := podOf("d", cond("True"))
	leaving.Metadata.DeletionTimestamp = &gone
	assert.False(t, leaving.Ready(), "terminating")
}

func TestAScopeCoversOnlyItsObjects(t *testing.T) {
	one := Scope{Resource: ConfigMaps, Namespace: "shop"}
	all := Scope{Resource: Secrets}
	for key, want := range map[string][2]bool{
		"configmaps/shop/web":   {true, false},
		"configmaps/shopping/x": {false, false},
		"secrets/shop/db":       {false, true},
		"secrets/other/db":      {false, true},
		"configmaps/other/web":  {false, false},
	} {
		assert.Equal(t, want[0], one.Covers(key), key)
		assert.Equal(t, want[1], all.Covers(key), key)
	}
}
