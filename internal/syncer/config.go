// config.go reads what `cuscon sync` is told, from flags and their environment twins.

package syncer

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"cuscon/internal/envflag"
	"cuscon/internal/kube"
	"cuscon/internal/telemetry"
)

// Config is what `cuscon sync` can be told.
type Config struct {
	// Namespace and Name are the object unpacked; Secret says it is a Secret.
	Namespace, Name string
	Secret          bool
	// Dir is the directory the keys are written into.
	Dir string
	// ReloadURL, in sidecar mode, is the app's reload endpoint, sent ReloadMethod.
	ReloadURL, ReloadMethod string
	// ReloadRetries is how many reloads may fail in a row before /healthz fails.
	ReloadRetries int
	// Command, in subprocess mode, is the app cuscon starts and sends SIGHUP.
	Command    []string
	Connection kube.Connection
	Telemetry  telemetry.Options
}

// Usage is the first lines of `cuscon sync --help`.
const Usage = `Usage:
  cuscon sync --configmap [NAMESPACE/]NAME --dir DIR --reload-url URL [flags]
  cuscon sync --secret [NAMESPACE/]NAME --dir DIR --reload-url URL [flags]
  cuscon sync (--configmap|--secret) [NAMESPACE/]NAME --dir DIR [flags] -- COMMAND [ARGS...]

Writes the keys of one ConfigMap (or Secret) as files into DIR, atomically as the kubelet
does, and tells the app to reload when the content changes: an HTTP request to its
reload URL when cuscon runs beside it (sidecar mode), or SIGHUP to COMMAND, which cuscon
starts after the first write and whose exit code it returns (subprocess mode). Only
content changes reload; the first write into an empty DIR does not. It needs list and
watch on that one object, nothing else.`

// ParseConfig reads the flags of args; what follows "--" is the command. Help goes to
// out.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	if i := slices.Index(args, "--"); i >= 0 {
		args, c.Command = args[:i], args[i+1:]
	}
	s := envflag.New("cuscon sync", Usage, out, getenv)
	var configMap, secret string
	s.Group("What to unpack")
	s.String(&configMap, "configmap", "CUSCON_SYNC_CONFIGMAP", "", "[NAMESPACE/]NAME of the ConfigMap to unpack (namespace default: res_namespace, else default)")
	s.String(&secret, "secret", "CUSCON_SYNC_SECRET", "", "[NAMESPACE/]NAME of a Secret to unpack instead; files are written 0600")
	s.String(&c.Dir, "dir", "CUSCON_SYNC_DIR", "", "directory the keys are written into")
	s.Group("How the app is told")
	s.String(&c.ReloadURL, "reload-url", "CUSCON_RELOAD_URL", "", "sidecar mode: the app's reload endpoint (subprocess mode, after --: SIGHUP instead)")
	s.String(&c.ReloadMethod, "reload-method", "CUSCON_RELOAD_METHOD", http.MethodPost, "HTTP method of the reload request")
	s.Int(&c.ReloadRetries, "reload-retries", "CUSCON_RELOAD_RETRIES", 5, "failed reloads in a row after which /healthz fails (cuscon keeps retrying)")
	s.Group("API access")
	c.Connection.DefineFlags(s)
	s.Group("Observability")
	c.Telemetry.DefineFlags(s)
	if err := s.Parse(args); err != nil {
		if strings.HasPrefix(err.Error(), "unexpected arguments") {
			return c, fmt.Errorf("%w (the command goes after --)", err)
		}
		return c, err
	}
	ref := configMap
	if secret != "" {
		ref, c.Secret = secret, true
	}
	c.Namespace, c.Name, _ = strings.Cut(ref, "/")
	if c.Name == "" {
		c.Namespace, c.Name = getenv("res_namespace"), c.Namespace
		if c.Namespace == "" {
			c.Namespace = "default"
		}
	}
	switch {
	case (configMap == "") == (secret == ""):
		return c, errors.New("give exactly one of --configmap and --secret")
	case c.Name == "" || c.Dir == "":
		return c, errors.New("--dir and the object's name are required")
	case (c.ReloadURL == "") == (len(c.Command) == 0):
		return c, errors.New("give either --reload-url (sidecar mode) or -- COMMAND (subprocess mode)")
	}
	return c, nil
}
