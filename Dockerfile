# syntax=docker/dockerfile:1
# The dashboard: built with Node from web/ into usagegraph/http/ui_dist (the package carries it).
FROM node:20-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM python:3.13-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY usagegraph ./usagegraph
COPY --from=web /src/usagegraph/http/ui_dist ./usagegraph/http/ui_dist
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.13-slim
RUN useradd --create-home --uid 10001 usagegraph
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    USAGEGRAPH_HOST=0.0.0.0 \
    USAGEGRAPH_DATA_DIR=/home/usagegraph/data \
    USAGEGRAPH_LOG_FORMAT=json
USER usagegraph
WORKDIR /home/usagegraph
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["usagegraph", "serve"]
