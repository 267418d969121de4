# The Keurmerk badge service. Build: `make image` (docker or podman), run:
#   docker run -p 8080:8080 -v badge-data:/data keurmerk-badge
# Stage 1 builds the service's wheel; stage 2 installs it and the locked runtime
# (requirements/runtime.txt, exported from uv.lock) on a slim Python with the system
# libraries cairo needs and nothing else (no compiler, no test tools).

# The base image by digest, so that every build starts from the same bytes; the tag beside it
# says which it is. Move it with the lock (`make upgrade`), after `docker pull python:3.12-slim`.
# Where no registry is reachable, `make image` passes the local stand-in's tag instead.
ARG PYTHON_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

# hadolint ignore=DL3006
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Every install below reads a file exported from uv.lock with each wheel's hash: pip checks
# the hashes and, with --no-deps, resolves nothing. The build backend comes first, for the
# service's own wheel, built without an isolated (unlocked) build environment.
COPY requirements/build.txt /src/requirements/
RUN pip install --no-deps --require-hashes -r requirements/build.txt
COPY . .
# The service's own wheel: templates, stylesheets, icons and catalogs travel inside it.
RUN pip wheel --no-deps --no-index --no-build-isolation --wheel-dir /wheels/app .

# hadolint ignore=DL3006
FROM ${PYTHON_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# libcairo2 paints the PNG badges (through cairocffi); the badge text itself is drawn as paths from the fonts in
# the font-source-sans-pro wheel, and DejaVu is fontconfig's fallback. Not pinned: the
# base image's Debian release fixes the versions, and pins would block security updates.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcairo2 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 badge \
 && useradd --system --uid 10001 --gid badge --home-dir /data --no-create-home badge \
 && mkdir -p /data/keys && chown -R badge:badge /data && chmod 0700 /data/keys
# The runtime from the lock, binary wheels only (nothing is compiled here), every hash checked.
COPY requirements/runtime.txt /tmp/requirements.txt
RUN pip install --no-deps --require-hashes --only-binary :all: -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
# The service's own wheel is small; copying it keys the install on its content.
COPY --from=build /wheels/app /tmp/wheels
RUN pip install --no-deps --no-index /tmp/wheels/*.whl
ENV BADGE_HOST=0.0.0.0 \
    BADGE_PORT=8080 \
    BADGE_DATABASE_URL=sqlite:////data/badge.db \
    BADGE_KEYS_DIR=/data/keys
# Numeric, so a runtime can check it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BADGE_PORT', '8080'), timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["badge", "serve"]
