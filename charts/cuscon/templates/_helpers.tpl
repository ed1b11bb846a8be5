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

{{/* The Role's (or ClusterRole's) rules: each verb is one cuscon uses. */}}
{{- define "cuscon.rules" -}}
# ConfigMaps: the list and the watch; patch records the applied content hash.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: {{ if eq .Values.config.state "memory" }}["list", "watch"]{{ else }}["list", "watch", "patch"]{{ end }}
# Pods: finding the selected ones, and deleting them (strategy delete, and rollout's pods without a workload).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "delete"]
# Events on the ConfigMap: what was restarted, or why not.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.secrets.enabled }}
# Secrets carrying the annotation, as ConfigMaps.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: {{ if eq .Values.config.state "memory" }}["list", "watch"]{{ else }}["list", "watch", "patch"]{{ end }}
{{- end }}
{{- if .Values.reloaderAnnotations }}
# Reloader's annotations: listing the workloads when an object changed, a paused
# Deployment left alone, rolling one and recording on it what it applied.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["list", "get", "patch"]
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
{{- end -}}
