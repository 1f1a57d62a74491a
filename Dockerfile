# One image for every process of an instance: web (`serve --no-worker`), `worker`, `scheduler`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MECHMOOC_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY server ./server
COPY courses ./courses
COPY mail ./mail
COPY federation ./federation
COPY web ./web
COPY migrations ./migrations
RUN pip install . \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin mechmooc \
 && mkdir -p /data && chown mechmooc:mechmooc /data

USER mechmooc
VOLUME ["/data"]
EXPOSE 8000

# urlopen raises on a 503, so an unhealthy instance fails the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["mechmooc", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
