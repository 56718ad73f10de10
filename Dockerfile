# syntax=docker/dockerfile:1
FROM python:3.13-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY usagegraph ./usagegraph
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
