// Package envflag defines command-line flags whose defaults come from environment
// variables (their twins), as a Kubernetes manifest sets them: a flag on the command line
// beats its twin, and a twin that does not parse is an error, not a silent default. Help
// lists the flags in groups, written --flag as the README writes them.
package envflag

import (
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Set is a set of flags with environment twins.
type Set struct {
	fs     *flag.FlagSet
	getenv func(string) string
	err    error
	group  string
	groups []string            // in the order they were begun
	member map[string][]string // group → flag names, in order of definition
	twins  map[string]string   // flag name → its environment twin
}

// New returns a set called name whose help starts with usage and is written to out;
// getenv reads the twins.
func New(name, usage string, out io.Writer, getenv func(string) string) *Set {
	s := &Set{fs: flag.NewFlagSet(name, flag.ContinueOnError), getenv: getenv, member: map[string][]string{}, twins: map[string]string{}}
	s.fs.SetOutput(out)
	s.fs.Usage = func() { s.writeHelp(out, usage) }
	return s
}

// Group starts a group: the flags defined next are listed under title in the help.
func (s *Set) Group(title string) {
	s.group = title
	if _, ok := s.member[title]; !ok {
		s.groups = append(s.groups, title)
		s.member[title] = nil
	}
}

// String defines a string flag whose default is its twin's value, if set.
func (s *Set) String(p *string, name, env, def, usage string) {
	define(s, p, name, env, def, usage, func(v string) (string, error) { return v, nil }, s.fs.StringVar)
}

// Bool defines a bool flag whose default is its twin's value, if set and valid.
func (s *Set) Bool(p *bool, name, env string, def bool, usage string) {
	define(s, p, name, env, def, usage, strconv.ParseBool, s.fs.BoolVar)
}

// Int defines an int flag whose default is its twin's value, if set and valid.
func (s *Set) Int(p *int, name, env string, def int, usage string) {
	define(s, p, name, env, def, usage, strconv.Atoi, s.fs.IntVar)
}

// Duration defines a duration flag whose default is its twin's value, if set and valid.
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	define(s, p, name, env, def, usage, time.ParseDuration, s.fs.DurationVar)
}

// List defines a list flag as stakater/Reloader's flags are (pflag string slices):
// comma-separated values read as CSV, so that "a=b,c=d" in double quotes is one value
// and a pair of quotes around a value is dropped; each use of the flag adds to the
// list. Its twin, if set, is the default list.
func (s *Set) List(p *[]string, name, env, usage string) {
	define(s, p, name, env, nil, usage, parseCSV, func(p *[]string, name string, def []string, usage string) {
		*p = def
		s.fs.Var(&listValue{p: p}, name, usage)
	})
}

// listValue is a List flag: the first use replaces the default, later ones add to it.
type listValue struct {
	p   *[]string
	set bool
}

func (l *listValue) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *listValue) Set(v string) error {
	vals, err := parseCSV(v)
	if err != nil {
		return err
	}
	if !l.set {
		*l.p, l.set = nil, true
	}
	*l.p = append(*l.p, vals...)
	return nil
}

// parseCSV reads one line of comma-separated values, as pflag does.
func parseCSV(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	r := csv.NewReader(strings.NewReader(v))
	r.LazyQuotes = false
	vals, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%q is not a comma-separated list: %w", v, err)
	}
	return vals, nil
}

// IsSet reports whether the flag called name was given, on the command line or by its
// twin.
func (s *Set) IsSet(name string) bool {
	set := false
	s.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	if set {
		return true
	}
	env, ok := s.twins[name]
	return ok && s.getenv(env) != ""
}

// Alias defines name as another spelling of the flag target (e.g. -n for --namespace):
// it sets the same value and is listed with it.
func (s *Set) Alias(name, target string) {
	f := s.fs.Lookup(target)
	s.fs.Var(f.Value, name, "short for --"+target)
}

// define defines one flag of type T: the twin env, when set, is parsed into its default,
// and the first twin that does not parse is remembered as the error.
func define[T any](s *Set, p *T, name, env string, def T, usage string, parse func(string) (T, error), flagVar func(*T, string, T, string)) {
	if env != "" {
		s.twins[name] = env
		if v := s.getenv(env); v != "" {
			parsed, err := parse(v)
			if err != nil && s.err == nil {
				s.err = fmt.Errorf("env %s: %w", env, err)
			}
			def = parsed
		}
		usage += " (env " + env + ")"
	}
	flagVar(p, name, def, usage)
	if s.group == "" {
		s.Group("Flags")
	}
	s.member[s.group] = append(s.member[s.group], name)
}

// Parse parses args; it returns the first twin that did not parse, or flag.ErrHelp, or
// an error for arguments that are not flags.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	if s.err != nil {
		return s.err
	}
	if s.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", s.fs.Args())
	}
	return nil
}

// Flag is what the help says of one flag.
type Flag struct {
	Name, Env, Default, Group, Usage string
}

// Flags lists the flags, group by group, in the order of the help.
func (s *Set) Flags() []Flag {
	var out []Flag
	for _, g := range s.groups {
		for _, name := range s.member[g] {
			f := s.fs.Lookup(name)
			out = append(out, Flag{Name: name, Env: s.twins[name], Default: f.DefValue, Group: g, Usage: f.Usage})
		}
	}
	return out
}

// Lookup returns the flag called name, or nil.
func (s *Set) Lookup(name string) *flag.Flag { return s.fs.Lookup(name) }

// Help writes the help as -h would.
func (s *Set) Help() { s.fs.Usage() }

// writeHelp writes usage, then each group's flags as --name TYPE, with the default.
func (s *Set) writeHelp(out io.Writer, usage string) {
	fmt.Fprintln(out, usage)
	for _, g := range s.groups {
		if len(s.member[g]) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s:\n", g)
		for _, name := range s.member[g] {
			f := s.fs.Lookup(name)
			kind, text := flag.UnquoteUsage(f)
			if _, ok := f.Value.(*listValue); ok {
				kind = "list"
			}
			line := "  --" + name
			if kind != "" {
				line += " " + kind
			}
			fmt.Fprintln(out, line)
			text = strings.ReplaceAll(text, "\n", "\n      ")
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				text += fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintln(out, "      "+text)
		}
	}
}
