// lists_test.go tests the reload and exclude lists a tenant writes: refused past their
// bounds with an error naming the annotation, cheap within them, each parsed once.

package reloader

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"cuscon/internal/kube"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAReloadListOverItsBoundsIsRefusedAndOneWithinIsCheap(t *testing.T) {
	many := strings.Repeat("cm-.*,", maxListEntries+1)
	for _, row := range []struct {
		name  string
		value string
		err   string
		names []string // what it matches of names below
	}{
		{"names", "a, b", "", []string{"a", "b"}},
		{"a name with dots is a name, not a pattern", "web.1, nginx.conf", "", []string{"web.1", "nginx.conf"}},
		{"a pattern matches whole names", "web-.*", "", []string{"web-1", "web-2"}},
		{"a pattern that does not compile is a name", "web-(", "", []string{"web-("}},
		{"blanks dropped", " , a ,, ", "", []string{"a"}},
		{"too long", strings.Repeat("a", maxListBytes+1), "over the bound of 4096", nil},
		{"too many entries", many[:len(many)-1], "101 entries, over the bound of 100", nil},
		{"a program too large, in few bytes", "(?:.?){990}0", "instructions, over the bound of 1000", nil},
		{"many small patterns adding up", strings.Repeat("(ab|cd|ef|gh)+x,", 99) + "y*", "instructions, over the bound of 1000", nil},
		// the attack the review reproduced: 83,000 patterns, 249 KB
		{"the attack", strings.Repeat("x.*y,", 83_000), "over the bound of 4096", nil},
	} {
		t.Run(row.name, func(t *testing.T) {
			l, err := parseList(row.value)
			if row.err != "" {
				assert.ErrorContains(t, err, row.err)
				return
			}
			require.NoError(t, err)
			assert.ElementsMatch(t, row.names, l.matching([]string{"web-1", "web-2", "db"}))
		})
	}
}

func TestAWorkloadWhoseListIsOverTheBoundsIsRefusedNamingTheAnnotation(t *testing.T) {
	w := deployment(t, map[string]string{"configmap.reloader.stakater.com/reload": strings.Repeat("x.*y,", 1000)}, nil, `{}`)
	_, err := optedIn(w, kube.ConfigMaps, lookup{}, nil, Options{}.rules(), nil)
	assert.ErrorContains(t, err, "configmap.reloader.stakater.com/reload: 5000 bytes, over the bound of 4096; refused")
	w = deployment(t, map[string]string{reloaderAuto: "true"}, map[string]string{"secrets.exclude.reloader.stakater.com/reload": strings.Repeat("a,", 200)}, `{}`)
	_, err = optedIn(w, kube.Secrets, lookup{}, nil, Options{}.rules(), nil)
	assert.ErrorContains(t, err, "secrets.exclude.reloader.stakater.com/reload: 200 entries")
}

func TestEachDistinctListIsParsedOnce(t *testing.T) {
	c := newListCache()
	a, _ := c.parse("web-.*", true)
	b, _ := c.parse("web-.*", true)
	assert.Same(t, a.re, b.re, "compiled once")
	n, _ := c.parse("web-.*", false)
	assert.Nil(t, n.re, "an exclude list of the same text is names, cached apart")
	for i := range maxCachedLists + 1 {
		_, _ = c.parse(fmt.Sprint("x", i, ".*"), true)
	}
	assert.LessOrEqual(t, len(c.lists), maxCachedLists, "a tenant churning annotations cannot grow it")
}

func TestAnExcludeListNamesObjectsAsTheyAre(t *testing.T) {
	objs := lookup{"configmap/nginx.conf": {}, "configmap/nginxXconf": {}}
	spec := `{"containers":[{"name":"a","envFrom":[{"configMapRef":{"name":"nginx.conf"}},{"configMapRef":{"name":"nginxXconf"}}]}]}`
	w := deployment(t, map[string]string{reloaderAuto: "true", "configmaps.exclude.reloader.stakater.com/reload": "nginx.conf, web-.*"}, nil, spec)
	got, err := optedIn(w, kube.ConfigMaps, objs, nil, Options{}.rules(), nil)
	require.NoError(t, err)
	assert.NotContains(t, got, "configmap/nginx.conf", "excluded by its name, dot and all")
	assert.Contains(t, got, "configmap/nginxXconf", "an exclude entry is no pattern")
}

func TestAListWithinTheBoundsIsCheapToMatchAndToKeep(t *testing.T) {
	// The review's list: bounded repetitions that compile large in few bytes. Refused now;
	// what is accepted matches a name in microseconds.
	var worst []string
	for i := 0; len(strings.Join(worst, ",")) < maxListBytes-100 && len(worst) < maxListEntries; i++ {
		worst = append(worst, fmt.Sprintf("[a-z]%d.*[0-9]", i))
	}
	l, err := parseList(strings.Join(worst, ","))
	if err == nil {
		names := make([]string, 1000)
		for i := range names {
			names[i] = fmt.Sprintf("%060d", i)
		}
		began := time.Now()
		l.matching(names)
		assert.Less(t, time.Since(began), time.Second, "a thousand 60-character names against the largest list accepted")
	} else {
		assert.ErrorContains(t, err, "instructions")
	}
	_, err = parseList(strings.Repeat("(?:.?){99}1,", 10))
	assert.ErrorContains(t, err, "over the bound of 1000", "the review's list within the old bounds")
}
