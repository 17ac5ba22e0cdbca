# Portwise production image: one image for the web, worker, beat and migrate services
# (see docker-compose.yml). It never starts the embedded servers: DATABASE_URL and
# REDIS_URL must point at real PostgreSQL and Redis.

# --- front-end libraries ----------------------------------------------------------------
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts ./scripts
RUN npm run build

# --- the application --------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=port.settings \
    PORTWISE_DATA_DIR=/data \
    MEDIA_ROOT=/data/media \
    PORT=8000

RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 portwise \
    && mkdir -p /data/media /data/beat \
    && chown -R portwise:portwise /data

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); \
print('\n'.join(d['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
COPY --from=assets /app/port/static/vendor port/static/vendor
RUN pip install --no-deps -e .

# Static files and translations are built into the image. Settings need some URL to load;
# these placeholders are never connected to.
RUN export DEBUG=0 SECRET_KEY=build-only \
        DATABASE_URL=postgresql://build@127.0.0.1:1/build REDIS_URL=redis://127.0.0.1:1/0 \
    && python manage.py collectstatic --noinput --verbosity 0 \
    && if [ -d locale ]; then python manage.py compilemessages; fi

USER portwise
EXPOSE 8000
# WEB_CONCURRENCY sets uvicorn's number of worker processes.
CMD ["sh", "-c", "exec uvicorn port.asgi:application --host 0.0.0.0 --port ${PORT} --proxy-headers --forwarded-allow-ips='*' --lifespan off"]
