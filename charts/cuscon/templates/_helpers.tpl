{{/* The chart's name, and the release's full name that names every object. */}}
{{- define "cuscon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cuscon.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cuscon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cuscon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cuscon.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cuscon.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "cuscon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cuscon.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cuscon.leaseName" -}}
{{- default (include "cuscon.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{- define "cuscon.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* "true" when a strategy's rights are granted: asked for, or auto and the default strategy needs them. */}}
{{- define "cuscon.grantEvict" -}}
{{- if or (eq (toString .Values.rbac.evict) "true") (and (eq (toString .Values.rbac.evict) "auto") (eq .Values.strategy "evict")) }}true{{ end -}}
{{- end -}}
{{- define "cuscon.grantRollout" -}}
{{- if or (eq (toString .Values.rbac.rollout) "true") (and (eq (toString .Values.rbac.rollout) "auto") (eq .Values.strategy "rollout")) }}true{{ end -}}
{{- end -}}

{{/* The Reloader mode is on with reloaderAnnotations, or when the reloader block (stakater/
Reloader's chart values) holds any key. */}}
{{- define "cuscon.reloaderMode" -}}
{{- if or .Values.reloaderAnnotations .Values.reloader }}true{{ end -}}
{{- end -}}

{{/* Secrets are watched with secrets.enabled, or, as Reloader watches them, when the reloader
block is used and does not say ignoreSecrets. */}}
{{- define "cuscon.secrets" -}}
{{- $r := .Values.reloader | default dict -}}
{{- if or .Values.secrets.enabled (and $r (not (get $r "ignoreSecrets"))) }}true{{ end -}}
{{- end -}}

{{/* Every namespace: clusterWide, or Reloader's watchGlobally: true. */}}
{{- define "cuscon.clusterWide" -}}
{{- $r := .Values.reloader | default dict -}}
{{- if or .Values.clusterWide (eq (toString (get $r "watchGlobally")) "true") }}true{{ end -}}
{{- end -}}

{{/* The namespaces watched, comma-separated (empty: the release's alone): watchNamespaces,
or Reloader's namespaces (a list or a comma-separated string) with the release's namespace
added, each once, sorted, as Reloader's chart lists them. */}}
{{- define "cuscon.watchNamespaces" -}}
{{- $r := .Values.reloader | default dict -}}
{{- $extra := get $r "namespaces" -}}
{{- if $extra -}}
{{- if kindIs "string" $extra }}{{ $extra = splitList "," $extra }}{{ end -}}
{{- $all := list .Release.Namespace -}}
{{- range $extra }}{{ with trim (toString .) }}{{ $all = append $all . }}{{ end }}{{ end -}}
{{- $all | uniq | sortAlpha | join "," -}}
{{- else -}}
{{- join "," .Values.watchNamespaces -}}
{{- end -}}
{{- end -}}

{{/* Reloader's flags for what the reloader block sets, one list item each, with Reloader's
names and --flag=value syntax; empty when the block sets none. */}}
{{- define "cuscon.reloaderArgs" -}}
{{- $r := .Values.reloader | default dict -}}
{{- $args := list -}}
{{- with get $r "reloadStrategy" }}{{ if ne . "default" }}{{ $args = append $args (printf "--reload-strategy=%s" .) }}{{ end }}{{ end -}}
{{- if get $r "autoReloadAll" }}{{ $args = append $args "--auto-reload-all=true" }}{{ end -}}
{{- if get $r "ignoreSecrets" }}{{ $args = append $args "--resources-to-ignore=secrets" }}{{ end -}}
{{- if get $r "ignoreConfigMaps" }}{{ $args = append $args "--resources-to-ignore=configmaps" }}{{ end -}}
{{- $types := list -}}
{{- if get $r "ignoreJobs" }}{{ $types = append $types "jobs" }}{{ end -}}
{{- if get $r "ignoreCronJobs" }}{{ $types = append $types "cronjobs" }}{{ end -}}
{{- with $types }}{{ $args = append $args (printf "--ignored-workload-types=%s" (join "," .)) }}{{ end -}}
{{- if include "cuscon.clusterWide" . -}}
{{- with get $r "ignoreNamespaces" }}{{ $args = append $args (printf "--namespaces-to-ignore=%s" (join "," .)) }}{{ end -}}
{{- with get $r "namespaceSelector" }}{{ $args = append $args (printf "--namespace-selector=%s" .) }}{{ end -}}
{{- end -}}
{{- with get $r "resourceLabelSelector" }}{{ $args = append $args (printf "--resource-label-selector=%s" .) }}{{ end -}}
{{- if get $r "reloadOnCreate" }}{{ $args = append $args "--reload-on-create=true" }}{{ end -}}
{{- if get $r "reloadOnDelete" }}{{ $args = append $args "--reload-on-delete=true" }}{{ end -}}
{{- if get $r "syncAfterRestart" }}{{ $args = append $args "--sync-after-restart=true" }}{{ end -}}
{{- if get $r "isArgoRollouts" }}{{ $args = append $args "--is-Argo-Rollouts=true" }}{{ end -}}
{{- with get $r "webhookUrl" }}{{ $args = append $args (printf "--webhook-url=%s" .) }}{{ end -}}
{{- $keys := get $r "custom_annotations" | default dict -}}
{{- range $k := list
  (list "configmap" "configmap-annotation") (list "secret" "secret-annotation")
  (list "auto" "auto-annotation") (list "secret_auto" "secret-auto-annotation")
  (list "configmap_auto" "configmap-auto-annotation") (list "search" "auto-search-annotation")
  (list "match" "search-match-annotation") (list "ignore" "ignore-annotation")
  (list "pausePeriod" "pause-deployment-annotation") (list "pauseTime" "pause-deployment-time-annotation") -}}
{{- with get $keys (index $k 0) }}{{ $args = append $args (printf "--%s=%s" (index $k 1) .) }}{{ end -}}
{{- end -}}
{{- with get $r "logFormat" }}{{ $args = append $args (printf "--log-format=%s" .) }}{{ end -}}
{{- with get $r "logLevel" }}{{ $args = append $args (printf "--log-level=%s" .) }}{{ end -}}
{{- range $args }}
- {{ . | quote }}
{{- end -}}
{{- end -}}

{{/* The Secret holding reloader.deployment.env.secret, Reloader's alert settings. */}}
{{- define "cuscon.reloaderEnvSecret" -}}
{{- include "cuscon.fullname" . }}-reloader-env
{{- end -}}

{{/* The container's variables from reloader.deployment.env, as Reloader's chart sets them:
open as values, secret from the Secret the chart makes of them, existing from Secrets
already there. Empty values are left out. */}}
{{- define "cuscon.reloaderEnv" -}}
{{- $env := dig "deployment" "env" dict (.Values.reloader | default dict) | default dict -}}
{{- range $name, $value := get $env "open" | default dict }}
{{- if ne (toString $value) "" }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- $secret := include "cuscon.reloaderEnvSecret" . -}}
{{- range $name, $value := get $env "secret" | default dict }}
{{- if ne (toString $value) "" }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $name }}
{{- end }}
{{- end }}
{{- range $from, $vars := get $env "existing" | default dict }}
{{- range $name, $key := $vars | default dict }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $from | quote }}
      key: {{ $key | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The Role's (or ClusterRole's) rules: each verb is one cuscon uses. */}}
{{- define "cuscon.rules" -}}
# ConfigMaps: the list and the watch; patch records the applied content hash.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: {{ if eq .Values.config.state "memory" }}["list", "watch"]{{ else }}["list", "watch", "patch"]{{ end }}
# Pods: finding the selected ones (watch: the pod cache), and deleting them (strategy delete, and rollout's pods without a workload).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "delete"]
# Events on the ConfigMap: what was restarted, or why not.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if include "cuscon.secrets" . }}
# Secrets carrying the annotation, as ConfigMaps.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: {{ if eq .Values.config.state "memory" }}["list", "watch"]{{ else }}["list", "watch", "patch"]{{ end }}
{{- end }}
{{- if include "cuscon.reloaderMode" . }}
{{- $r := .Values.reloader | default dict }}
# Reloader's annotations: listing the workloads when an object changed, a paused
# Deployment left alone, rolling one and recording on it what it applied.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["list", "get", "patch"]
{{- if not (get $r "ignoreCronJobs") }}
# CronJobs that opted in: listing them, and recording on one what it applied; a reload
# runs its Job now (jobs create).
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["get", "list", "patch"]
{{- end }}
{{- if not (get $r "ignoreJobs") }}
# Jobs that opted in: listing them; a reload deletes one and creates it again (and a
# CronJob's reload creates its Job). create lets cuscon run a pod as any ServiceAccount
# of the namespace: set reloader.ignoreJobs and ignoreCronJobs if no Job opts in.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "patch", "create", "delete"]
{{- else if not (get $r "ignoreCronJobs") }}
# A CronJob's reload runs its Job now (Jobs themselves are ignored).
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create"]
{{- end }}
{{- if get $r "isArgoRollouts" }}
# Argo Rollouts that opted in (isArgoRollouts): listing, rolling and recording, as Deployments.
- apiGroups: ["argoproj.io"]
  resources: ["rollouts"]
  verbs: ["get", "list", "patch"]
{{- end }}
{{- if and (include "cuscon.clusterWide" .) (get $r "namespaceSelector") }}
# namespaceSelector: the labels of the namespaces, to know which are in scope.
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
{{- end }}
{{- end }}
{{- if include "cuscon.grantEvict" . }}
# Strategy evict: the Eviction API, which honours PodDisruptionBudgets.
- apiGroups: [""]
  resources: ["pods/eviction"]
  verbs: ["create"]
{{- end }}
{{- if include "cuscon.grantRollout" . }}
# Strategy rollout: from a pod to its Deployment, then stamping the workload's pod template.
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "patch"]
{{- end }}
{{- end -}}

{{/* GOMEMLIMIT: about 85% of resources.limits.memory (bytes, or with Ki, Mi, Gi, k, M or G),
so that the Go runtime collects harder before the kernel would kill the pod; empty when
there is no such limit. */}}
{{- define "cuscon.goMemLimit" -}}
{{- $m := toString (((.Values.resources).limits).memory) -}}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 -}}
{{- if regexMatch "^[0-9]+(k|M|G|Ki|Mi|Gi)?$" $m -}}
{{- $unit := regexFind "[kMGi]+$" $m -}}
{{- $bytes := mul (trimSuffix $unit $m | int64) (get $units $unit) -}}
{{- div (mul $bytes 85) 100 }}
{{- end -}}
{{- end -}}

{{/* The Secret holding the key of the Reloader mode's Secret digests. */}}
{{- define "cuscon.digestKeySecret" -}}
{{- include "cuscon.fullname" . }}-digest-key
{{- end -}}

{{/* Settings that cannot work together fail the install with a reason. */}}
{{- define "cuscon.validate" -}}
{{- if and .Values.clusterWide .Values.watchNamespaces -}}
{{- fail "clusterWide and watchNamespaces exclude each other: choose every namespace or a list" -}}
{{- end -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicas > 1 needs leaderElection.enabled: two replicas would both restart the same pods" -}}
{{- end -}}
{{- if and .Values.leaderElection.enabled (eq .Values.config.state "memory") -}}
{{- fail "leaderElection needs config.state annotation: a new leader learns what was applied from the objects" -}}
{{- end -}}
{{- if and (eq .Values.strategy "evict") (eq (toString .Values.rbac.evict) "false") -}}
{{- fail "strategy evict needs rbac.evict" -}}
{{- end -}}
{{- if and (eq .Values.strategy "rollout") (eq (toString .Values.rbac.rollout) "false") -}}
{{- fail "strategy rollout needs rbac.rollout" -}}
{{- end -}}
{{- $r := .Values.reloader | default dict -}}
{{- $global := get $r "watchGlobally" -}}
{{- if and (eq (toString $global) "true") (get $r "namespaces") -}}
{{- fail "reloader.namespaces is set but reloader.watchGlobally is true: set watchGlobally false to watch those namespaces, or drop namespaces to watch every one" -}}
{{- end -}}
{{- if and (eq (toString $global) "true") .Values.watchNamespaces -}}
{{- fail "reloader.watchGlobally true and watchNamespaces exclude each other: choose every namespace or a list" -}}
{{- end -}}
{{- if and (eq (toString $global) "false") .Values.clusterWide -}}
{{- fail "reloader.watchGlobally false and clusterWide true contradict each other: keep one" -}}
{{- end -}}
{{- if and (get $r "namespaces") (or .Values.clusterWide .Values.watchNamespaces) -}}
{{- fail "reloader.namespaces and clusterWide or watchNamespaces: set the namespaces once" -}}
{{- end -}}
{{- if and (get $r "ignoreSecrets") (get $r "ignoreConfigMaps") -}}
{{- fail "reloader.ignoreSecrets and reloader.ignoreConfigMaps exclude each other: Reloader and cuscon ignore one kind at most (--resources-to-ignore), else nothing would restart anything; keep one, or drop the reloader block" -}}
{{- end -}}
{{- range $key := list "namespaceSelector" "ignoreNamespaces" -}}
{{- if and (get $r $key) (not (include "cuscon.clusterWide" $)) -}}
{{- fail (printf "reloader.%s works with every namespace only (Reloader's chart drops it otherwise): set reloader.watchGlobally or clusterWide true, or remove it" $key) -}}
{{- end -}}
{{- end -}}
{{- range $key := list "logFormat" "logLevel" -}}
{{- if and (get $r $key) (ne (toString (get $.Values.config $key)) "") -}}
{{- fail (printf "reloader.%s and config.%s set the same flag: keep one" $key $key) -}}
{{- end -}}
{{- end -}}
{{- if and (include "cuscon.reloaderMode" .) (eq .Values.config.state "memory") -}}
{{- fail "the Reloader mode (reloaderAnnotations or the reloader block) needs config.state annotation: what a workload was restarted for is recorded on it" -}}
{{- end -}}
{{- end -}}
