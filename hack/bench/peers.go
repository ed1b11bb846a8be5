// peers.go defines what is measured side by side — cuscon with its defaults and with its
// knobs off, the article's Python script, stakater/Reloader, and the floor — and how
// each is started against a given API address.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cuscon/internal/plane"
)

// peer is one controller the benchmark runs, or the floor it measures itself.
type peer struct {
	Name    string   // as the tables show it
	Kind    string   // "cuscon", "python", "reloader" or "floor"
	Env     []string // extra environment (cuscon's knobs)
	Rollout bool     // its first action is a pod template patch, not a pod DELETE
	Floor   string   // floor only: "list" (LIST, then DELETE) or "known" (DELETE only)
}

// slug is the peer's name as a namespace and file name part.
func (p peer) slug() string {
	s := strings.NewReplacer(" ", "-", "(", "", ")", "", ":", "", "+", "").Replace(strings.ToLower(p.Name))
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}

// allPeers lists every peer in the order the tables show them; cuscon first, as the
// ratios are to it.
func allPeers() []peer {
	return []peer{
		{Name: "cuscon", Kind: "cuscon"},
		{Name: "cuscon (knobs off)", Kind: "cuscon", Env: []string{"CUSCON_DEBOUNCE=0s", "CUSCON_RATE_LIMIT=0"}},
		{Name: "Python script", Kind: "python"},
		{Name: "Reloader", Kind: "reloader", Rollout: true},
		{Name: "floor: LIST + DELETE", Kind: "floor", Floor: "list"},
		{Name: "floor: DELETE", Kind: "floor", Floor: "known"},
	}
}

// selectPeers keeps the peers whose kind or slug is in the comma-separated list.
func selectPeers(list string) []peer {
	var out []peer
	for _, p := range allPeers() {
		for _, w := range strings.Split(list, ",") {
			w = strings.TrimSpace(w)
			if w == p.Kind || w == p.slug() || w == "all" {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// running is a started peer.
type running struct {
	proc    *plane.Process
	started time.Time
	listen  string // cuscon: where /readyz and /metrics are served
}

// startPeer starts p for namespace ns against the API at api (the proxy, or a recorder
// in front of it). The floor has no process: it returns nil.
func (b *bench) startPeer(p peer, ns, api string) (*running, error) {
	var env, args []string
	var bin string
	r := &running{}
	switch p.Kind {
	case "floor":
		return nil, nil
	case "cuscon":
		ports, err := plane.FreePorts(1)
		if err != nil {
			return nil, err
		}
		r.listen = fmt.Sprintf("127.0.0.1:%d", ports[0])
		bin = b.cuscon
		env = append([]string{"res_namespace=" + ns, "CUSCON_API_URL=" + api, "CUSCON_LISTEN_ADDRESS=" + r.listen}, p.Env...)
	case "python":
		bin, args = b.python, []string{b.script}
		env = []string{"res_namespace=" + ns, "API_URL=" + api, "PYTHONUNBUFFERED=1", "PATH=/usr/bin:/bin"}
	case "reloader":
		if b.reloader == "" {
			return nil, fmt.Errorf("the Reloader binary was not built")
		}
		// Out of cluster, through the same proxy as the others: a kubeconfig naming it.
		kc := filepath.Join(b.dir, "reloader-"+ns+".kubeconfig")
		if err := writeProxyKubeconfig(kc, api); err != nil {
			return nil, err
		}
		bin = b.reloader
		// KUBERNETES_NAMESPACE scopes its informers to ns; Secrets are not watched (the
		// fixtures have none, and the others watch only ConfigMaps); reload strategy left
		// at its default (env-vars): the Deployment's pod template is patched.
		env = []string{"KUBECONFIG=" + kc, "KUBERNETES_NAMESPACE=" + ns, "HOME=" + b.dir}
		args = []string{"--resources-to-ignore=secrets", "--log-level=info"}
	default:
		return nil, fmt.Errorf("unknown peer kind %q", p.Kind)
	}
	r.started = time.Now()
	proc, err := plane.StartProcess(b.dir, p.slug()+"-"+ns, env, bin, args...)
	if err != nil {
		return nil, err
	}
	r.proc = proc
	return r, nil
}

// stop ends a started peer, if there is one.
func (r *running) stop() {
	if r != nil && r.proc != nil {
		r.proc.Stop(10 * time.Second)
	}
}

// writeProxyKubeconfig writes a kubeconfig whose server is a kubectl proxy: no
// credentials, since the proxy adds its own.
func writeProxyKubeconfig(path, server string) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: proxy
  cluster:
    server: %s
users:
- name: proxy
  user: {}
contexts:
- name: proxy
  context:
    cluster: proxy
    user: proxy
current-context: proxy
`, server)
	return os.WriteFile(path, []byte(cfg), 0o600)
}
