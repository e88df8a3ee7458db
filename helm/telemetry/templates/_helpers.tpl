{{/*
Expand the name of the chart.
*/}}
{{- define "telemetry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name (63 characters: the DNS label limit).
If the release name contains the chart name it is used as the full name.
*/}}
{{- define "telemetry.fullname" -}}
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

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "telemetry.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "telemetry.labels" -}}
helm.sh/chart: {{ include "telemetry.chart" . }}
{{ include "telemetry.selectorLabels" . }}
app.kubernetes.io/version: {{ include "telemetry.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: telemetry
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: name and instance only (immutable in a Deployment's selector).
*/}}
{{- define "telemetry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "telemetry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The application version: the image tag when set, else the chart's appVersion.
*/}}
{{- define "telemetry.version" -}}
{{- default .Chart.AppVersion .Values.image.tag | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of the service account to use.
*/}}
{{- define "telemetry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "telemetry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The container image reference (digest wins over tag).
*/}}
{{- define "telemetry.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Partitions of the readings topic: the upper bound for any replica count.
*/}}
{{- define "telemetry.partitions" -}}
{{- $topics := .Values.config.topics | default dict }}
{{- required "config.topics.partitions is required (it caps the replica count)" $topics.partitions | int }}
{{- end }}

{{/*
The CPU request in millicores (resources.requests.cpu: "250m", "1.5", 2; 0 when unset).
*/}}
{{- define "telemetry.cpuRequestMillis" -}}
{{- $cpu := toString (dig "requests" "cpu" "" (.Values.resources | default dict)) }}
{{- if not $cpu }}0
{{- else if hasSuffix "m" $cpu }}{{ trimSuffix "m" $cpu | int }}
{{- else }}{{ mulf (float64 $cpu) 1000 | int }}
{{- end }}
{{- end }}

{{/*
Group members per pod (`telemetry run --workers`): an integer as given, or for "auto" the CPU
request in whole cores, rounded down (a worker is one Python process, busy on one core), at
least 1 and at most the partition count.
*/}}
{{- define "telemetry.workers" -}}
{{- if eq (toString .Values.workers) "auto" }}
{{- $cores := div (include "telemetry.cpuRequestMillis" . | int) 1000 }}
{{- max 1 (min $cores (include "telemetry.partitions" . | int)) }}
{{- else }}
{{- int .Values.workers }}
{{- end }}
{{- end }}

{{/*
The most replicas an autoscaler may run: each pod holds telemetry.workers members, and a
consumer group has at most one active member per partition (at least 1).
*/}}
{{- define "telemetry.maxReplicasFor" -}}
{{- $partitions := include "telemetry.partitions" .context | int }}
{{- $cap := max 1 (div $partitions (include "telemetry.workers" .context | int)) }}
{{- min (int .max) $cap }}
{{- end }}

{{/*
Checks that cannot be expressed in values.schema.json. Included by the Deployment.
*/}}
{{- define "telemetry.validate" -}}
{{- if and .Values.autoscaling.enabled .Values.keda.enabled }}
{{- fail "autoscaling.enabled and keda.enabled are mutually exclusive (KEDA manages its own HPA)" }}
{{- end }}
{{- $metrics := .Values.config.metrics | default dict }}
{{- if has (toString $metrics.host) (list "127.0.0.1" "localhost" "::1") }}
{{- fail "config.metrics.host must not be a loopback address in a pod: the kubelet probes and Prometheus scrapes the pod IP (use 0.0.0.0)" }}
{{- end }}
{{- $kafka := .Values.config.kafka | default dict }}
{{- range $key, $_ := ($kafka.extra | default dict) }}
{{- if regexMatch "(?i)(password|secret|jaas|ssl\\.key\\.pem|token)" $key }}
{{- fail (printf "config.kafka.extra.%s looks secret: the config is a ConfigMap, readable by anyone who can read the namespace; pass it from a Secret with extraEnv instead (TELEMETRY_KAFKA__EXTRA is YAML)" $key) }}
{{- end }}
{{- end }}
{{- /* Secrets set directly in values would land in the ConfigMap. */}}
{{- $schemas := .Values.config.schemas | default dict }}
{{- $inConfigMap := "the config is a ConfigMap, readable by anyone who can read the namespace" }}
{{- if not (kindIs "invalid" $kafka.sasl_password) }}
{{- fail (printf "config.kafka.sasl_password must not be set in values because %s, so put it in a Secret named by kafka.sasl.existingSecret" $inConfigMap) }}
{{- end }}
{{- if not (kindIs "invalid" $kafka.ssl_key_password) }}
{{- fail (printf "config.kafka.ssl_key_password must not be set in values because %s, so put it in the Secret named by kafka.tls.existingSecret, under the key named by kafka.tls.keyPasswordKey" $inConfigMap) }}
{{- end }}
{{- if not (kindIs "invalid" $schemas.registry_password) }}
{{- fail (printf "config.schemas.registry_password must not be set in values because %s, so put it in a Secret named by schemaRegistry.existingSecret" $inConfigMap) }}
{{- end }}
{{- if regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]*@" (toString ($schemas.registry_url | default "")) }}
{{- fail (printf "config.schemas.registry_url must not carry credentials (user:password@) because %s, so put them in a Secret named by schemaRegistry.existingSecret" $inConfigMap) }}
{{- end }}
{{- with .Values.kafka.tls }}
{{- if .existingSecret }}
{{- $protocol := toString ($kafka.security_protocol | default "PLAINTEXT") }}
{{- if has $protocol (list "PLAINTEXT" "SASL_PLAINTEXT") }}
{{- fail (printf "kafka.tls.existingSecret needs config.kafka.security_protocol SSL or SASL_SSL, not %s, with which the client never uses the TLS files" $protocol) }}
{{- end }}
{{- if ne (empty .certKey) (empty .keyKey) }}
{{- fail "kafka.tls.certKey and kafka.tls.keyKey go together: mutual TLS needs the client certificate and its key (leave both empty to verify the broker only)" }}
{{- end }}
{{- if and .keyPasswordKey (not .keyKey) }}
{{- fail "kafka.tls.keyPasswordKey needs kafka.tls.keyKey, the client key it decrypts" }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (or .Values.schemaRegistry.existingSecret .Values.schemaRegistry.caSecret) (not $schemas.registry_url) }}
{{- fail "schemaRegistry.existingSecret and schemaRegistry.caSecret need config.schemas.registry_url, without which the processor uses its local schemas and never talks to a registry" }}
{{- end }}
{{- if and (include "telemetry.secretVolumes" . | fromYamlArray) (kindIs "invalid" (.Values.podSecurityContext | default dict).fsGroup) }}
{{- fail "podSecurityContext.fsGroup is needed to read the Secrets mounted for kafka.tls and schemaRegistry, whose files (mode 0440) only their owner (root) and the fsGroup can read" }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.egress) }}
{{- fail "networkPolicy.enabled needs networkPolicy.egress rules for the Kafka brokers (and the schema registry, if any), without which the pods could resolve names and reach nothing" }}
{{- end }}
{{- $processing := .Values.config.processing | default dict }}
{{- /* A SIGTERM's worst case: the drain, then the stop budget (30 s,
telemetry.stages.StopBudget: the revoke's flushes, the final commit, the group leave and the
last changelog writes share it, even with the broker gone) and 5 s to exit. */}}
{{- $drain := float64 (default 20.0 $processing.drain_timeout_s) }}
{{- $shutdown := addf $drain 35.0 }}
{{- if lt (float64 .Values.terminationGracePeriodSeconds) $shutdown }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must cover the shutdown: config.processing.drain_timeout_s (%v) + 30 s for the flushes, the final commit and the group leave + 5 s to exit = %v s, or the final commit is cut short by SIGKILL" .Values.terminationGracePeriodSeconds $drain $shutdown) }}
{{- end }}
{{- if and .Values.staticMembership.enabled (gt (include "telemetry.sessionTimeoutMs" . | int) 300000) }}
{{- fail (printf "staticMembership.enabled needs config.processing.session_timeout_ms <= 300000 (5 minutes, the kubelet's longest crash-loop back-off), got %s: a deleted pod's partitions wait that long before they move, and a crash-looping pod would keep its partitions" (include "telemetry.sessionTimeoutMs" .)) }}
{{- end }}
{{- if gt (include "telemetry.workers" . | int) (include "telemetry.partitions" . | int) }}
{{- fail (printf "workers (%s) must not exceed config.topics.partitions (%s): a consumer group has at most one active member per partition, so the other workers would sit idle" (include "telemetry.workers" .) (include "telemetry.partitions" .)) }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set only one of minAvailable and maxUnavailable" }}
{{- end }}
{{- end }}

{{/*
The metrics/health port the processor listens on (config.metrics.port, the app's default 9100).
*/}}
{{- define "telemetry.metricsPort" -}}
{{- $metrics := .Values.config.metrics | default dict }}
{{- default 9100 $metrics.port | int }}
{{- end }}

{{/*
The consumer's session timeout in ms (config.processing.session_timeout_ms, the app's default
45000): with static membership, how long a deleted pod's partitions wait before they move.
*/}}
{{- define "telemetry.sessionTimeoutMs" -}}
{{- $processing := .Values.config.processing | default dict }}
{{- default 45000 $processing.session_timeout_ms | int }}
{{- end }}

{{/*
The Secret volumes (read-only, only the keys named in values, mode 0440) as a YAML list of
{name, secretName, mountPath, keys}: the one source of the volumes, their mounts and the
validation. "[]" when there are none.
*/}}
{{- define "telemetry.secretVolumes" -}}
{{- $volumes := list }}
{{- with .Values.kafka.tls }}
{{- if .existingSecret }}
{{- $keys := compact (list .caKey .certKey .keyKey .keyPasswordKey) | uniq }}
{{- $volumes = append $volumes (dict "name" "kafka-tls" "secretName" .existingSecret "mountPath" (include "telemetry.kafkaTlsDir" $) "keys" $keys) }}
{{- end }}
{{- end }}
{{- with .Values.schemaRegistry }}
{{- if .existingSecret }}
{{- $volumes = append $volumes (dict "name" "registry-credentials" "secretName" .existingSecret "mountPath" (include "telemetry.registrySecretDir" $) "keys" (list .passwordKey)) }}
{{- end }}
{{- if .caSecret }}
{{- $volumes = append $volumes (dict "name" "registry-tls" "secretName" .caSecret "mountPath" (include "telemetry.registryTlsDir" $) "keys" (list .caKey)) }}
{{- end }}
{{- end }}
{{- toYaml $volumes }}
{{- end }}

{{/*
Where those Secrets are mounted. Mounts nested in the config mount (/etc/telemetry, a
ConfigMap volume) are fine: the kubelet creates their mount points.
*/}}
{{- define "telemetry.kafkaTlsDir" -}}
/etc/telemetry/tls/kafka
{{- end }}

{{- define "telemetry.registrySecretDir" -}}
/etc/telemetry/secrets/registry
{{- end }}

{{- define "telemetry.registryTlsDir" -}}
/etc/telemetry/tls/registry
{{- end }}
