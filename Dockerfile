# The Keurmerk badge service. Build: `make image` (docker or podman), run:
#   docker run -p 8080:8080 -v badge-data:/data keurmerk-badge
# Stage 1 builds wheels for the dependencies and for the service; stage 2 installs them on a
# slim Python with the two system libraries cairosvg needs and nothing else (no compiler,
# no test tools).

FROM python:3.12-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# The build backend once, here, rather than in an isolated environment on every build.
RUN pip install "setuptools>=68,<81" "wheel>=0.42,<1"
# Dependencies first, from pyproject.toml alone: a source change rebuilds only the last steps.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" >requirements.txt \
 && pip wheel --wheel-dir /wheels/deps -r requirements.txt
COPY . .
# The service's own wheel: templates, stylesheets, icons and catalogs travel inside it.
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels/app .

FROM python:3.12-slim
ARG DEBIAN_FRONTEND=noninteractive
# libcairo2 for cairosvg's PNGs; the badge text itself is drawn as paths from the fonts in
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
# The dependency wheels are mounted, not copied, so they never become a layer. A mount is
# not part of a step's cache key everywhere (podman), so the requirements it was built
# from are copied first: when they change, the install reruns.
COPY --from=build /src/requirements.txt /tmp/requirements.txt
RUN --mount=type=bind,from=build,source=/wheels/deps,target=/wheels/deps \
    pip install --no-index /wheels/deps/*.whl
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
