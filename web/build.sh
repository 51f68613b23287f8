#!/usr/bin/env bash
# Build the web UI into web/dist when its sources are newer than the last build.
# Used by `make up`, `make test` and the browser tests' fixture.
set -euo pipefail
cd "$(dirname "$0")"

stamp=dist/index.html
if [ -f "$stamp" ] && [ -z "$(find src index.html package.json package-lock.json vite.config.ts tsconfig*.json -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
