# syntax=docker/dockerfile:1
# telemetry: multi-stage build. The builder turns the source into a wheel and installs it into
# a virtualenv; the runtime stage copies only that virtualenv onto a clean slim image (no
# compilers, no pip, no source tree) and runs as the unprivileged uid 10001.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY telemetry ./telemetry
COPY schemas ./schemas
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install /wheels/telemetry-*.whl \
 && /opt/venv/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/venv/bin/telemetry --version

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="telemetry" \
      org.opencontainers.image.description="Kafka stream processor for IoT sensor telemetry" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TELEMETRY_METRICS__HOST=0.0.0.0 \
    TELEMETRY_LOG__FORMAT=json
RUN groupadd --system --gid 10001 telemetry \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin telemetry
COPY --from=builder /opt/venv /opt/venv
COPY config.example.yaml /etc/telemetry/config.yaml
USER 10001:10001
EXPOSE 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:9100/healthz', timeout=2)"]
ENTRYPOINT ["telemetry"]
CMD ["run", "--config", "/etc/telemetry/config.yaml"]
