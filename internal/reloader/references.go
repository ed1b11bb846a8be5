// references.go finds, in a workload's pod template, which ConfigMaps and Secrets its
// pods use and which of their keys: volumes a container mounts, projected volume
// sources, env valueFrom key refs and envFrom, in containers, init containers and native
// sidecars (init containers that keep running). Pure.

package reloader

import (
	"slices"
	"strings"
)

// podSpec is the part of a pod template that can name a ConfigMap or Secret.
type podSpec struct {
	Volumes        []volume    `json:"volumes,omitempty"`
	Containers     []container `json:"containers,omitempty"`
	InitContainers []container `json:"initContainers,omitempty"`
}

// volume is a pod volume; only ConfigMap, Secret and projected volumes matter here.
type volume struct {
	Name      string           `json:"name"`
	ConfigMap *volumeSource    `json:"configMap,omitempty"`
	Secret    *volumeSource    `json:"secret,omitempty"`
	Projected *projectedVolume `json:"projected,omitempty"`
}

// volumeSource is a configMap volume (name) or a secret volume (secretName), or one
// source of a projected volume (name, for both).
type volumeSource struct {
	Name       string    `json:"name,omitempty"`
	SecretName string    `json:"secretName,omitempty"`
	Items      []keyPath `json:"items,omitempty"`
	Optional   *bool     `json:"optional,omitempty"`
}

// keyPath is one item of a volume: a key projected to a path.
type keyPath struct {
	Key string `json:"key"`
}

// projectedVolume is a projected volume's sources.
type projectedVolume struct {
	Sources []struct {
		ConfigMap *volumeSource `json:"configMap,omitempty"`
		Secret    *volumeSource `json:"secret,omitempty"`
	} `json:"sources"`
}

// container is the part of a container that can name a ConfigMap or Secret.
type container struct {
	Name string `json:"name"`
	Env  []struct {
		Name      string `json:"name"`
		ValueFrom *struct {
			ConfigMapKeyRef *keyRef `json:"configMapKeyRef,omitempty"`
			SecretKeyRef    *keyRef `json:"secretKeyRef,omitempty"`
		} `json:"valueFrom,omitempty"`
	} `json:"env,omitempty"`
	EnvFrom []struct {
		ConfigMapRef *keyRef `json:"configMapRef,omitempty"`
		SecretRef    *keyRef `json:"secretRef,omitempty"`
	} `json:"envFrom,omitempty"`
	VolumeMounts []struct {
		Name string `json:"name"`
	} `json:"volumeMounts,omitempty"`
}

// keyRef names an object (and a key of it, for valueFrom).
type keyRef struct {
	Name     string `json:"name"`
	Key      string `json:"key,omitempty"`
	Optional *bool  `json:"optional,omitempty"`
}

// use is how a workload uses one ConfigMap or Secret: every key, or only some; whether
// every reference to it is optional (the pods start without it); and through what.
type use struct {
	all      bool
	keys     []string // sorted; meaningful when !all
	optional bool
	via      []string // e.g. `volume "config"`, `envFrom in "app"`, `env LOG_LEVEL in "app"`
	// containers are the regular containers that use it (mount, env, envFrom), in the
	// order of the pod spec: where a restart's marker goes.
	containers []string
}

// uses returns how spec uses each object it names, by "configmap/NAME" or "secret/NAME".
// A volume counts only if a container (or init container) mounts it.
func uses(spec *podSpec) map[string]*use {
	out := map[string]*use{}
	order := map[string]int{}
	for i, c := range spec.Containers {
		order[c.Name] = i
	}
	add := func(kind, name string, keys []keyPath, optional *bool, all bool, via string, in ...string) {
		if name == "" {
			return
		}
		ref := kind + "/" + name
		u := out[ref]
		opt := optional != nil && *optional
		if u == nil {
			u = &use{optional: opt}
			out[ref] = u
		}
		u.optional = u.optional && opt // one required reference makes it required
		if all || len(keys) == 0 {
			u.all = true
		}
		for _, k := range keys {
			if !slices.Contains(u.keys, k.Key) {
				u.keys = append(u.keys, k.Key)
			}
		}
		if !slices.Contains(u.via, via) {
			u.via = append(u.via, via)
		}
		for _, c := range in {
			if _, regular := order[c]; regular && !slices.Contains(u.containers, c) {
				u.containers = append(u.containers, c)
			}
		}
	}
	mounted := map[string][]string{} // volume → the containers that mount it
	containers := append(append([]container(nil), spec.Containers...), spec.InitContainers...)
	for i := range containers {
		for _, m := range containers[i].VolumeMounts {
			mounted[m.Name] = append(mounted[m.Name], containers[i].Name)
		}
	}
	for _, v := range spec.Volumes {
		by := mounted[v.Name]
		if len(by) == 0 {
			continue
		}
		via := `volume "` + v.Name + `"`
		if s := v.ConfigMap; s != nil {
			add("configmap", s.Name, s.Items, s.Optional, false, via, by...)
		}
		if s := v.Secret; s != nil {
			add("secret", s.SecretName, s.Items, s.Optional, false, via, by...)
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if s := src.ConfigMap; s != nil {
					add("configmap", s.Name, s.Items, s.Optional, false, "projected "+via, by...)
				}
				if s := src.Secret; s != nil {
					add("secret", s.Name, s.Items, s.Optional, false, "projected "+via, by...)
				}
			}
		}
	}
	for i := range containers {
		c := &containers[i]
		in := ` in "` + c.Name + `"`
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add("configmap", r.Name, []keyPath{{Key: r.Key}}, r.Optional, false, "env "+e.Name+in, c.Name)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add("secret", r.Name, []keyPath{{Key: r.Key}}, r.Optional, false, "env "+e.Name+in, c.Name)
			}
		}
		for _, e := range c.EnvFrom {
			if r := e.ConfigMapRef; r != nil {
				add("configmap", r.Name, nil, r.Optional, true, "envFrom"+in, c.Name)
			}
			if r := e.SecretRef; r != nil {
				add("secret", r.Name, nil, r.Optional, true, "envFrom"+in, c.Name)
			}
		}
	}
	for _, u := range out {
		if u.all {
			u.keys = nil
		}
		slices.Sort(u.keys)
		slices.SortFunc(u.containers, func(a, b string) int { return order[a] - order[b] })
	}
	return out
}

// why says through what a workload uses an object, for logs and `cuscon plan`.
func (u *use) why() string {
	s := strings.Join(u.via, ", ")
	if !u.all {
		s += " (keys " + strings.Join(u.keys, ", ") + ")"
	}
	if u.optional {
		s += " (optional)"
	}
	return s
}
