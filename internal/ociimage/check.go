package ociimage

import (
	"debug/elf"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Want is what cuscon's image must be.
type Want struct {
	// Platforms are the architectures the archive must hold, each exactly once.
	Platforms []string
	// Binary is the executable the image runs; ZoneInfo, when set, the one other file:
	// Go's zone data, which the image's environment points ZONEINFO at (so that
	// maintenance windows resolve time zones on scratch).
	Binary, ZoneInfo string
	// Labels must be present and not empty; a non-empty value must match exactly.
	Labels map[string]string
	// MaxBinary and MaxLayers bound the binary's size and the compressed layers' total.
	MaxBinary, MaxLayers int64
}

// machines maps an OCI architecture to the ELF machine its binary must be built for.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// Check returns every way the images differ from want; none means the archive is right.
func Check(images []Image, want Want) []string {
	var problems []string
	var arches []string
	for _, img := range images {
		arches = append(arches, img.Architecture)
		for _, p := range checkImage(img, want) {
			problems = append(problems, img.OS+"/"+img.Architecture+": "+p)
		}
	}
	slices.Sort(arches)
	wantArches := slices.Sorted(slices.Values(want.Platforms))
	if !slices.Equal(arches, wantArches) {
		problems = append(problems, fmt.Sprintf("architectures %v, want %v", arches, wantArches))
	}
	return problems
}

// checkImage checks one platform's image.
func checkImage(img Image, want Want) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if img.OS != "linux" {
		bad("os %q, want linux", img.OS)
	}
	if uid, ok := numericUser(img.Config.User); !ok {
		bad("USER %q is not numeric uid:gid (runAsNonRoot cannot verify a name)", img.Config.User)
	} else if uid == 0 {
		bad("USER %q is root", img.Config.User)
	}
	if !slices.Equal(img.Config.Entrypoint, []string{want.Binary}) || len(img.Config.Cmd) > 0 {
		bad("entrypoint %q cmd %q, want [%s] and no cmd", img.Config.Entrypoint, img.Config.Cmd, want.Binary)
	}
	for k, v := range want.Labels {
		got := img.Config.Labels[k]
		switch {
		case got == "" || got == "unknown":
			bad("label %s missing", k)
		case v != "" && got != v:
			bad("label %s = %q, want %q", k, got, v)
		}
	}
	var layers int64
	for _, n := range img.Layers {
		layers += n
	}
	if layers > want.MaxLayers {
		bad("layers %d bytes compressed, want at most %d", layers, want.MaxLayers)
	}
	for name, f := range img.Files {
		if name != want.Binary && name != want.ZoneInfo && !(f.Type == '5' && name == "/") {
			bad("unexpected file %s: the image holds only %s", name, strings.Trim(want.Binary+" and "+want.ZoneInfo, " and"))
		}
	}
	if want.ZoneInfo != "" {
		if f, ok := img.Files[want.ZoneInfo]; !ok || f.Size == 0 {
			bad("no %s: time zones would not resolve", want.ZoneInfo)
		}
		if !slices.Contains(img.Config.Env, "ZONEINFO="+want.ZoneInfo) {
			bad("ZONEINFO=%s is not in the environment %q", want.ZoneInfo, img.Config.Env)
		}
	}
	bin, ok := img.Files[want.Binary]
	switch {
	case !ok:
		bad("no %s", want.Binary)
	case bin.Mode&0o111 == 0:
		bad("%s is not executable (mode %o)", want.Binary, bin.Mode)
	case bin.Machine != machines[img.Architecture]:
		bad("%s is built for %v, not %s", want.Binary, bin.Machine, img.Architecture)
	case !bin.Static:
		bad("%s is dynamically linked: scratch has no loader", want.Binary)
	case bin.Size > want.MaxBinary:
		bad("%s is %d bytes, want at most %d", want.Binary, bin.Size, want.MaxBinary)
	}
	return problems
}

// numericUser parses "uid" or "uid:gid" and returns the uid.
func numericUser(user string) (int, bool) {
	uid, gid, hasGID := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	if err != nil || n < 0 {
		return 0, false
	}
	if hasGID {
		if g, err := strconv.Atoi(gid); err != nil || g < 0 {
			return 0, false
		}
	}
	return n, true
}
