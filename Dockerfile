# Portwise production image: one image for the web, worker, beat and migrate services
# (see docker-compose.yml, deploy/k8s). It carries no embedded servers (the `embedded` extra is
# for development only): DATABASE_URL and REDIS_URL must point at real PostgreSQL and Redis.
# Both base images are pinned by digest (docs/deploy.md, "Images pinned by digest"): a
# rebuild takes exactly these builds until someone moves the pin on purpose.

# --- front-end libraries ----------------------------------------------------------------
FROM node:22-slim@sha256:83f487e0a63425e5b4d146fb5e5be574bcbe1b7b843d3ebafdd95eaf7767a7e5 AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts ./scripts
RUN npm run build

# --- the application --------------------------------------------------------------------
FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea
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
# WEB_CONCURRENCY sets uvicorn's number of worker processes. No per-message deflate on the
# live sockets (port.fanout.UVICORN_WEBSOCKET_OPTIONS says why).
CMD ["sh", "-c", "exec uvicorn port.asgi:application --host 0.0.0.0 --port ${PORT} --proxy-headers --forwarded-allow-ips ${FORWARDED_ALLOW_IPS:-127.0.0.1} --lifespan off --ws-per-message-deflate false"]
