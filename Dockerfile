# Portwise production image: one image for the web, worker, beat and migrate services
# (see docker-compose.yml, deploy/k8s). It carries no embedded servers (the `embedded` extra is
# for development only): DATABASE_URL and REDIS_URL must point at real PostgreSQL and Redis.
# Pin both base images by digest when you build for production
# (FROM python:3.12-slim@sha256:…); `docker buildx imagetools inspect` prints the digest.

# --- front-end libraries ----------------------------------------------------------------
FROM node:22-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts ./scripts
RUN npm run build

# --- the application --------------------------------------------------------------------
FROM python:3.12-slim
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

# Dependencies first, from the production lock alone (every package pinned with its hash),
# so code changes reuse this layer.
COPY requirements-prod.lock ./
RUN pip install --require-hashes -r requirements-prod.lock

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
CMD ["sh", "-c", "exec uvicorn port.asgi:application --host 0.0.0.0 --port ${PORT} --proxy-headers --forwarded-allow-ips ${FORWARDED_ALLOW_IPS:-127.0.0.1} --lifespan off"]
