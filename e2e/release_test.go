// release_test.go starts cuscon the way an installed Helm release's pod would run it.
// kwok runs no container, so the cuscon binary is started here with exactly the
// environment, ServiceAccount and (for direct mode) mounts the release's pod would get.
package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stretchr/testify/require"
)

// startFromRelease starts cuscon as a pod of the release's Deployment deploy would run:
// as its ServiceAccount, with the app container's environment (the downward API
// resolved for one of its pods, whose name it returns), behind a kubectl proxy — or,
// when the release is direct (CUSCON_IN_CLUSTER), with the ServiceAccount's token and
// the cluster CA where the kubelet would mount them. Only the ports move: to the
// suite's, and the API server's address is the plane's.
func (c *cluster) startFromRelease(deploy string) string {
	c.t.Helper()
	var d struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Template struct {
				Spec struct {
					ServiceAccountName string `json:"serviceAccountName"`
					Containers         []struct {
						Name string `json:"name"`
						Env  []struct {
							Name      string `json:"name"`
							Value     string `json:"value"`
							ValueFrom *struct {
								FieldRef *struct {
									FieldPath string `json:"fieldPath"`
								} `json:"fieldRef"`
							} `json:"valueFrom"`
						} `json:"env"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	require.NoError(c.t, json.Unmarshal([]byte(c.kubectl("get", "deployment", deploy, "-n", c.ns, "-o", "json")), &d))
	var selector []string
	for k, v := range d.Spec.Selector.MatchLabels {
		selector = append(selector, k+"="+v)
	}
	pod := strings.TrimSpace(c.kubectl("get", "pods", "-n", c.ns, "-l", strings.Join(selector, ","),
		"-o", "jsonpath={.items[0].metadata.name}"))
	require.NotEmpty(c.t, pod, "the release's Deployment has a pod")

	var env []string
	found := false
	for _, ctr := range d.Spec.Template.Spec.Containers {
		if ctr.Name != "app" {
			continue
		}
		found = true
		for _, e := range ctr.Env {
			value := e.Value
			if e.ValueFrom != nil {
				require.NotNil(c.t, e.ValueFrom.FieldRef, "env %s: only the downward API is emulated", e.Name)
				switch e.ValueFrom.FieldRef.FieldPath {
				case "metadata.namespace":
					value = c.ns
				case "metadata.name":
					value = pod
				default:
					c.t.Fatalf("env %s: field %s is not emulated", e.Name, e.ValueFrom.FieldRef.FieldPath)
				}
			}
			if e.Name == "CUSCON_API_URL" {
				require.Equal(c.t, "http://127.0.0.1:8001", value, "cuscon talks to its sidecar")
				value = suite.proxyURL
			}
			if e.Name == "CUSCON_LISTEN_ADDRESS" {
				value = strings.TrimPrefix(suite.health, "http://")
			}
			env = append(env, e.Name+"="+value)
		}
	}
	require.True(c.t, found, "the Deployment has a container named app")

	sa := d.Spec.Template.Spec.ServiceAccountName
	token := strings.TrimSpace(c.kubectl("create", "token", sa, "-n", c.ns, "--duration", "1h"))
	if slices.Contains(env, "CUSCON_IN_CLUSTER=true") {
		env = append(env, c.mountServiceAccount(token)...)
	} else {
		kubeconfig := filepath.Join(c.dir, "release.kubeconfig")
		require.NoError(c.t, writeKubeconfig(kubeconfig, token))
		c.startProxy(kubeconfig)
	}
	c.cuscon = c.startCusconAs("helm", env)
	c.t.Logf("cuscon started as pod %s of %s, ServiceAccount %s, env %v", pod, deploy, sa, env)
	return pod
}

// mountServiceAccount writes token and the plane's CA as the kubelet mounts them, and
// returns the environment that points direct mode at them and at the API server.
func (c *cluster) mountServiceAccount(token string) []string {
	c.t.Helper()
	dir := filepath.Join(c.dir, "release-serviceaccount")
	require.NoError(c.t, os.MkdirAll(dir, 0o755))
	require.NoError(c.t, os.WriteFile(filepath.Join(dir, "token"), []byte(token), 0o600))
	ca, err := os.ReadFile(filepath.Join(suite.dir, "certs", "apiserver.crt"))
	require.NoError(c.t, err)
	require.NoError(c.t, os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o644))
	host, port, _ := strings.Cut(strings.TrimPrefix(suite.plane.Server, "https://"), ":")
	return []string{"CUSCON_SERVICE_ACCOUNT_DIR=" + dir, "KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port}
}
