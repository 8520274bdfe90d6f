# tousu: a slim, non-root image that migrates the database and serves the API.
# Build: docker build -t tousu .   Run: docker run -p 8000:8000 -e TOUSU_DATABASE_URL=postgresql+psycopg://... tousu
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOUSU_WORKERS=2

WORKDIR /srv/tousu
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# Editable, so that the code finds alembic.ini and migrations/ beside it.
RUN pip install -e . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin tousu \
    && mkdir var && chown tousu:tousu var

USER tousu
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["sh", "-c", "tousu migrate && exec tousu serve --host 0.0.0.0 --port 8000 --workers \"$TOUSU_WORKERS\""]
