// labels_test.go tests which selectors cuscon accepts: those that require something of a
// pod. Those that would select every pod without some label — the attack of issue 10 —
// are refused, and so are malformed ones, before any pod is listed.

package labels

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSelectorsThatRequireSomethingAreAccepted(t *testing.T) {
	for _, sel := range []string{
		"app=frontend",
		"app==frontend",
		"app = frontend",
		"app",
		"app in (frontend, canary)",
		"app in (frontend)",
		"app=frontend,tier!=db",
		"app=frontend, !legacy",
		"tier notin (db), app",
		"example.com/app=web",
		"app.kubernetes.io/name=frontend",
		"app=",
		"version>2,app=x",
	} {
		assert.NoError(t, Check(sel), sel)
	}
}

func TestSelectorsThatWouldSelectMostOfTheNamespaceAreRefused(t *testing.T) {
	assert.Equal(t, ErrEmpty, Check(""))
	assert.Equal(t, ErrEmpty, Check("   "))
	for _, sel := range []string{
		"!nonexistent",
		"app notin (zzz)",
		"tier!=db",
		"tier != db, !legacy",
		"version>2",
		"version<2",
	} {
		err := Check(sel)
		assert.True(t, errors.Is(err, ErrBroad), "%q: %v", sel, err)
	}
}

func TestMalformedSelectorsAreRefused(t *testing.T) {
	for sel, why := range map[string]string{
		"app=frontend,,!!":                      "empty label key",
		"app in ()":                             "non-empty",
		"app in (a":                             "non-empty",
		"app in a":                              "want k",
		"app=front end":                         "label value",
		"app=frontend\n2026-11-23 Modification": "label value",
		"app\x1b[31m=x":                         "want k",
		"/app=x":                                "bad prefix",
		"app=" + string(make([]byte, 64)):       "label value",
		"a$b=c":                                 "want k",
		"app=(x)":                               "label value",
		"app in (a,b c)":                        "label value",
		"!":                                     "empty label key",
		"app notin (x), tier in (a, b), !c, d=e,": "empty label key",
	} {
		err := Check(sel)
		if assert.Error(t, err, "%q", sel) {
			assert.Contains(t, err.Error(), why, "%q", sel)
			assert.False(t, errors.Is(err, ErrBroad), "%q is malformed, not broad", sel)
		}
	}
}

func TestSelectorsSplitAtCommasOutsideParentheses(t *testing.T) {
	assert.Equal(t, []string{"a in (x,y)", " b=c"}, Split("a in (x,y), b=c"))
	assert.Nil(t, Split("  "))
	assert.Equal(t, []string{"a", ""}, Split("a,"))
}

func TestLabelKeysAndValuesFollowKubernetesLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, row := range []struct {
		sel string
		ok  bool
	}{
		{long(63) + "=x", true},
		{long(64) + "=x", false},
		{"app=" + long(63), true},
		{"app=" + long(64), false},
		{long(253) + "/app=x", true},
		{long(254) + "/app=x", false},
		{"example.com/=x", false},
		{"a.b-c_d=e.f-g_h", true},
		{"APP=Web", true},
		{"app=web/x", false},
		{"app in (" + long(64) + ")", false},
		{"app in (a, " + long(63) + ")", true},
	} {
		err := Check(row.sel)
		assert.Equal(t, row.ok, err == nil, "%.40q: %v", row.sel, err)
	}
}

func TestOnlyLettersDigitsDashUnderscoreAndDotMakeALabel(t *testing.T) {
	for _, r := range "azAZ09-_." {
		assert.True(t, isLabelRune(r), "%q", r)
	}
	for _, r := range " /=!,()\t\n\x00é✓$" {
		assert.False(t, isLabelRune(r), "%q", r)
	}
}

func TestARequirementNeedsAKey(t *testing.T) {
	for _, sel := range []string{"=x", "==x", "!=x", " in (a)", "!", "app=x, =y"} {
		assert.Error(t, Check(sel), "%q", sel)
	}
}

func TestAWorkloadsSelectorIsWrittenAsTheAPIWouldReadIt(t *testing.T) {
	var none *Selector
	assert.Equal(t, "", none.String())
	s := &Selector{MatchLabels: map[string]string{"app": "web", "tier": "front"}}
	s.MatchExpressions = []Requirement{{"env", "In", []string{"prod", "canary"}}, {"legacy", "DoesNotExist", nil}}
	assert.Equal(t, "!legacy,app=web,env in (prod,canary),tier=front", s.String())
	assert.NoError(t, Check(s.String()), "and it is a selector cuscon accepts")
}

func TestMatchesSelectsAsTheAPIServerDoes(t *testing.T) {
	set := map[string]string{"env": "test", "tier": "web", "n": "5"}
	for sel, want := range map[string]bool{
		"":                        true,
		"env=test":                true,
		"env==test":               true,
		"env=prod":                false,
		"env!=prod":               true,
		"missing!=x":              true,
		"env":                     true,
		"!env":                    false,
		"!missing":                true,
		"env in (test,prod)":      true,
		"env in (prod)":           false,
		"env notin (prod)":        true,
		"env notin (test)":        false,
		"missing notin (x)":       true,
		"env=test,tier=web":       true,
		"env=test,tier=db":        false,
		"n>4":                     true,
		"n<4":                     false,
		"env=test, tier in (web)": true,
	} {
		got, err := Matches(sel, set)
		assert.NoError(t, err, sel)
		assert.Equal(t, want, got, sel)
	}
	_, err := Matches("env===x", set)
	assert.Error(t, err)
}
