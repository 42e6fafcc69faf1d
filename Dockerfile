# syntax=docker/dockerfile:1
#
# Gaia in one image: the single binary from `bun run build` on a small glibc base.
#
#   docker build -t gaia .
#   docker run --rm -p 8666:8666 -p 8080:8080 -v gaia-data:/app/data \
#     -e GAIA_JWT_SECRET="$(openssl rand -base64 48)" -e WEB_SESSION_SECRET="$(openssl rand -base64 48)" gaia
#   docker run --rm -p 8666:8666 -p 8080:8080 -e GAIA_ENV=development gaia    # try-out: dev secrets and dev account
#
# The image defaults to GAIA_ENV=production, which refuses to start unless GAIA_JWT_SECRET and
# WEB_SESSION_SECRET are set (each at least 32 characters), and GAIA_INTERNAL_SECRET too when GAIA_SERVICE
# runs one service. Without GAIA_SERVICE the container is all-in-one (SQLite and the in-process bus under
# /app/data unless DATABASE_URL / NATS_URL say otherwise); GAIA_SERVICE=gateway|auth|chat|kb|asset|web runs
# that service alone (split mode, see docker-compose.yml).

# Keep in step with the Bun that develops and tests the code (`bun --version`); .ci/run installs this one too.
ARG BUN_VERSION=1.4.5

# ---- build: the locked dependencies, then `bun build --compile` into dist/gaia ----
FROM oven/bun:${BUN_VERSION} AS build
WORKDIR /src
# Manifests first, so a source edit does not repeat the install.
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile
# .dockerignore admits only what the build needs.
COPY . .
# `bun run build` embeds public/ (CSS, JS, vendored libraries, icons) in the binary.
RUN bun run build

# ---- runtime ----
# The compiled binary is Bun itself plus the bundle: it needs only glibc (libc, libm, libpthread, libdl;
# GLIBC_2.17 or newer), and brings its own TLS root certificates. debian:bookworm-slim is the build image's
# Debian, and unlike distroless it has bash, which the health check below needs (there is no curl or wget).
FROM debian:bookworm-slim AS runtime

# A fixed uid/gid keeps volume ownership stable across rebuilds. The data folders exist in the image, owned
# by gaia, because Docker gives a new named volume the owner and mode of the folder it is mounted on; 0700
# because the database holds password and key hashes.
RUN groupadd --system --gid 10001 gaia \
  && useradd --system --uid 10001 --gid gaia --home-dir /app --no-create-home --shell /usr/sbin/nologin gaia \
  && mkdir -p /app/data/kb /app/data/assets \
  && chown -R gaia:gaia /app/data \
  && chmod 0700 /app/data

WORKDIR /app
# Swagger UI, the migrations and the web UI's static files are embedded in the binary: it is the whole app.
# `/app/gaia <command>` runs operator commands (migrate, grant-admin, create-user, …) in the container.
COPY --from=build /src/dist/gaia /app/gaia

# The health probe: one HTTP/1.1 request over bash's /dev/tcp, to the port and path of the service this
# container runs. The gateway (and all-in-one) answers /health/ready: 503 until migrations and seeding are
# done, or when the database is down. Services answer /health: 503 without their database.
COPY --chmod=0755 <<'EOF' /app/healthcheck
#!/bin/bash
set -u
case "${GAIA_SERVICE:-all}" in
  auth) port=${AUTH_PORT:-8001} path=/health ;;
  asset) port=${ASSET_PORT:-8002} path=/health ;;
  chat) port=${CHAT_PORT:-8003} path=/health ;;
  kb) port=${KB_PORT:-8004} path=/health ;;
  web) port=${WEB_PORT:-8080} path=/health ;;
  *) port=${GATEWAY_PORT:-8666} path=/health/ready ;;
esac
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
read -r -t 5 _proto status _reason <&3 || exit 1
[[ ${status%$'\r'} == 200 ]]
EOF

# Bun's fetch opens at most 256 connections at once by default; chat streams each hold one to the LLM
# provider, so a busy instance would queue streams behind that cap (measured by bench/chat.ts).
ENV GAIA_ENV=production \
    GAIA_DATA_DIR=/app/data \
    HOST=0.0.0.0 \
    BUN_CONFIG_MAX_HTTP_REQUESTS=4096

USER gaia:gaia
# The SQLite file, generated secrets (only outside production), the KB working tree and stored assets.
VOLUME ["/app/data"]
# Gateway and web UI. In split mode the services listen on 8001-8004 inside the network.
EXPOSE 8666 8080
HEALTHCHECK --interval=15s --timeout=6s --start-period=30s --retries=3 CMD ["/app/healthcheck"]
# Gaia drains open streams on SIGTERM (up to 30 s) before it exits; give `docker stop -t 35` when that matters.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/gaia"]
