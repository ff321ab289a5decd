{{/*
The chart name, overridable.
*/}}
{{- define "detective-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: the release name, prefixed to the chart name unless it already contains it.
Truncated to 63 characters (DNS label).
*/}}
{{- define "detective-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "detective-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "detective-operator.labels" -}}
helm.sh/chart: {{ include "detective-operator.chart" . }}
{{ include "detective-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: detective-operator
{{- end }}

{{/*
Labels that select the operator's pods (immutable in a Deployment: never add to them).
*/}}
{{- define "detective-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "detective-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "detective-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "detective-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The namespace watched in namespaced mode (rbac.namespaced): watchNamespace, else the release's.
*/}}
{{- define "detective-operator.watchNamespace" -}}
{{- default .Release.Namespace .Values.rbac.watchNamespace }}
{{- end }}

{{- define "detective-operator.leaseName" -}}
{{- default (include "detective-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "detective-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The plural resource of each kind `--kinds` takes (one line per kind).
*/}}
{{- define "detective-operator.kindResources" -}}
graph: detectivegraphs
membership: detectivememberships
organizationadmin: detectiveorganizationadmins
graphset: detectivegraphsets
{{- end }}

{{/*
The operator's Deployments, as a JSON list: one per entry of `deployments` (or one reconciling
every kind when that is empty), each with its kinds, service account, RBAC name and the
instances it runs (one per entry of `shards`, or one watching every object): each instance's
Deployment name, selector labels, Lease and label selector.
*/}}
{{- define "detective-operator.controllers" -}}
{{- $root := . }}
{{- $fullname := include "detective-operator.fullname" . }}
{{- $leaseBase := default $fullname .Values.leaderElection.leaseName }}
{{- $allKinds := keys (include "detective-operator.kindResources" . | fromYaml) | sortAlpha }}
{{- $deployments := .Values.deployments }}
{{- if not $deployments }}
{{- $deployments = list (dict "name" "" "kinds" list) }}
{{- end }}
{{- $shards := .Values.shards }}
{{- if not $shards }}
{{- $shards = list (dict "name" "" "selector" "") }}
{{- end }}
{{- $controllers := list }}
{{- $claimed := dict }}
{{- range $deployment := $deployments }}
{{- $kinds := $deployment.kinds | default $allKinds }}
{{- range $kind := $kinds }}
{{- if not (has $kind $allKinds) }}
{{- fail (printf "deployments[%s].kinds: %q is no kind; the kinds are %s" $deployment.name $kind (join ", " $allKinds)) }}
{{- end }}
{{- if hasKey $claimed $kind }}
{{- fail (printf "deployments: kind %q is in both %s and %s; each kind belongs to one Deployment" $kind (get $claimed $kind) $deployment.name) }}
{{- end }}
{{- $_ := set $claimed $kind $deployment.name }}
{{- end }}
{{- $name := $fullname }}
{{- $account := "" }}
{{- $annotations := dict }}
{{- if $deployment.name }}
{{- $name = printf "%s-%s" $fullname $deployment.name | trunc 63 | trimSuffix "-" }}
{{- $ownAccount := $deployment.serviceAccount | default dict }}
{{- $annotations = $ownAccount.annotations | default dict }}
{{- if $root.Values.serviceAccount.create }}
{{- $account = default $name $ownAccount.name }}
{{- else }}
{{- $account = required (printf "deployments[%s].serviceAccount.name is required when serviceAccount.create is false" $deployment.name) $ownAccount.name }}
{{- end }}
{{- else }}
{{- $account = include "detective-operator.serviceAccountName" $root }}
{{- $annotations = $root.Values.serviceAccount.annotations }}
{{- end }}
{{- $instances := list }}
{{- range $shard := $shards }}
{{- $suffix := list $deployment.name $shard.name | compact | join "-" }}
{{- $instanceName := $fullname }}
{{- $lease := $leaseBase }}
{{- if $suffix }}
{{- $instanceName = printf "%s-%s" $fullname $suffix | trunc 63 | trimSuffix "-" }}
{{- $lease = printf "%s-%s" $leaseBase $suffix | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- $instances = append $instances (dict "name" $instanceName "component" $suffix "lease" $lease "selector" ($shard.selector | default "")) }}
{{- end }}
{{- $controllers = append $controllers (dict "name" $name "kinds" $kinds "allKinds" (eq (len $kinds) (len $allKinds)) "serviceAccount" $account "annotations" $annotations "instances" $instances) }}
{{- end }}
{{- toJson $controllers }}
{{- end }}

{{/*
What the operator may do with the resources of its kinds and events, and nothing more:
list/watch/get and patch (finalizers, by JSON patch) on the resources, server-side-apply patches
of their status, and events.k8s.io Events (create, then patch when an event repeats). No
Secrets, no wildcards. Called with (dict "kinds" KINDS "root" $) by the ClusterRole (all
namespaces) and by the Role (namespaced mode).
*/}}
{{- define "detective-operator.rules" -}}
{{- $resources := include "detective-operator.kindResources" .root | fromYaml -}}
- apiGroups:
    - detective.operator.dev
  resources:
    {{- range .kinds }}
    - {{ get $resources . }}
    {{- end }}
  verbs:
    - get
    - list
    - watch
{{- if without .kinds "graphset" }}
# Finalizers (JSON patch): a DetectiveGraphSet has none, so it is not patched.
- apiGroups:
    - detective.operator.dev
  resources:
    {{- range without .kinds "graphset" }}
    - {{ get $resources . }}
    {{- end }}
  verbs:
    - patch
{{- end }}
{{- if has "graphset" .kinds }}
# A DetectiveGraphSet's children: read, created and put back (server-side apply), released
# (merge patch) and deleted by the set's controller, whichever process runs the graphs.
- apiGroups:
    - detective.operator.dev
  resources:
    - detectivegraphs
  verbs:
    - get
    - list
    - watch
    - create
    - patch
    - delete
# The children's owner reference blocks the set's foreground deletion (blockOwnerDeletion), which
# clusters enforcing OwnerReferencesPermissionEnforcement allow only to who may update this.
- apiGroups:
    - detective.operator.dev
  resources:
    - detectivegraphsets/finalizers
  verbs:
    - update
{{- end }}
- apiGroups:
    - detective.operator.dev
  resources:
    {{- range .kinds }}
    - {{ get $resources . }}/status
    {{- end }}
  verbs:
    - patch
- apiGroups:
    - events.k8s.io
  resources:
    - events
  verbs:
    - create
    - patch
{{- end }}

{{/*
The labels of one alert: its severity and prometheusRule.alertLabels.
Called with (dict "severity" "warning" "root" $).
*/}}
{{- define "detective-operator.alertLabels" -}}
severity: {{ .severity }}
{{- with .root.Values.prometheusRule.alertLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}
