# The product's image for docker-compose.yml (production mode). Chinese fonts for the PDF reports.
# Debian 12 (bookworm): its postgresql-client-15 is the major of docker-compose's PostgreSQL server, as
# `manage.py backup` / `restore` require (pg_dump/pg_restore of the server's major version).
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei libpango-1.0-0 libpangoft2-1.0-0 \
        postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY projections projections
COPY api api
COPY consumers consumers
COPY reports reports
COPY manage.py ./
RUN pip install --no-cache-dir ".[prod]"
RUN useradd --system --home /var/lib/school-safety school-safety \
    && mkdir -p /var/lib/school-safety && chown school-safety /var/lib/school-safety
USER school-safety
EXPOSE 8000
# gthread workers: a request waiting for a report render (api/renderpool.py) holds a thread, not a worker
CMD ["gunicorn", "api.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--worker-class", "gthread", "--threads", "8", "--timeout", "120"]
