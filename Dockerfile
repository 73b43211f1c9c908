# syntax=docker/dockerfile:1
# A slim image running the same command as the Procfile's `web:`. Two stages: the
# first builds the package and its dependencies into a virtualenv, the second copies
# only that virtualenv onto a clean base and runs as an unprivileged user (which the
# embedded PostgreSQL, used when DATABASE_URL is unset, requires). The embedded
# database keeps its data in EXCHANGE_DATA_DIR, made here and owned by that user:
# mount a volume there (`-v exchange-data:/home/exchange/data`), or the data goes
# with the container.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exchange ./exchange
RUN pip install --no-cache-dir .

FROM python:3.12-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    EXCHANGE_LOG_FORMAT=json \
    EXCHANGE_DATA_DIR=/home/exchange/data
RUN useradd --create-home --uid 10001 exchange \
    && install -d -o exchange -g exchange /home/exchange/data
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /home/exchange
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/health\", timeout=4)"]
CMD ["exchange", "serve"]
