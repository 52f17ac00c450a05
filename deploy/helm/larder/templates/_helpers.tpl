{{/*
The prefix of every object's name: the release name, or <release>-larder when the
release name does not already say larder.
*/}}
{{- define "larder.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The components: folder under apps/, the values key, which listeners they have (a
larder.yaml port key each) and whom they call. One table, so every template agrees.
*/}}
{{- define "larder.components" -}}
registry:
  values: registry
  main: apps/registry/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port }
  calls: []
online-serving:
  values: onlineServing
  main: apps/online-serving/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port, http: http.port }
  calls: [registry]
offline-retrieval:
  values: offlineRetrieval
  main: apps/offline-retrieval/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port }
  calls: [registry]
materialization:
  values: materialization
  main: apps/materialization/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port }
  calls: [registry]
ingestion:
  values: ingestion
  main: apps/ingestion/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port, http: http.port }
  calls: [registry]
ui:
  values: ui
  main: apps/ui/src/server/main.ts
  ports: { http: ui.port }
  calls: [registry, offline-retrieval, materialization, ingestion]
{{- end -}}

{{/* Labels of one component's objects; selector labels are the first two. */}}
{{- define "larder.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "larder.labels" -}}
{{ include "larder.selectorLabels" . }}
app.kubernetes.io/part-of: larder
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* A value at a dotted larder.yaml key ("grpc.port") of a config map. */}}
{{- define "larder.configValue" -}}
{{- $node := .config -}}
{{- range $part := splitList "." .key -}}
{{- $node = index $node $part -}}
{{- end -}}
{{- $node -}}
{{- end -}}

{{/*
The larder.yaml of one component: what the chart itself must set (TLS files where the
Secret is mounted, the projected token, the other services' addresses, listeners on all
interfaces), then the shared `config`, then the component's own `config`.
*/}}
{{- define "larder.componentConfig" -}}
{{- $root := .root -}}
{{- $fullname := include "larder.fullname" $root -}}
{{- $components := include "larder.components" $root | fromYaml -}}
{{- $own := index $root.Values (index $components .component).values -}}
{{- $derived := dict "bind" (dict "host" "0.0.0.0") -}}
{{- if $root.Values.tls.secretName -}}
{{- $tls := dict "certFile" "/var/run/larder/tls/tls.crt" "keyFile" "/var/run/larder/tls/tls.key" -}}
{{- if $root.Values.tls.clientCerts -}}
{{- $_ := set $tls "clientCaFile" "/var/run/larder/tls/ca.crt" -}}
{{- $_ := set $tls "requireClientCert" $root.Values.tls.requireClientCerts -}}
{{- end -}}
{{- $_ := set $derived "tls" $tls -}}
{{- $_ := set $derived "client" (dict "tls" (dict "caFile" "/var/run/larder/tls/ca.crt") "tokenFile" "/var/run/larder/identity/token") -}}
{{- else -}}
{{- $_ := set $derived "client" (dict "tokenFile" "/var/run/larder/identity/token") -}}
{{- end -}}
{{- $auth := dig "auth" "modes" list $root.Values.config -}}
{{- if has "oidc" $auth -}}
{{- $_ := set $derived "auth" (dict "oidc" (dict "caFile" "/var/run/larder/identity/ca.crt")) -}}
{{- end -}}
{{- range $callee := (index $components .component).calls -}}
{{- $calleeValues := index $root.Values (index $components $callee).values -}}
{{- $address := printf "%s-%s:%v" $fullname $callee (include "larder.configValue" (dict "config" $calleeValues.config "key" "grpc.port")) -}}
{{- $_ := set $derived (index $components $callee).values (dict "address" $address) -}}
{{- end -}}
{{- $merged := mergeOverwrite (deepCopy $derived) (deepCopy $root.Values.config) (deepCopy $own.config) -}}
{{- toYaml $merged -}}
{{- end -}}
