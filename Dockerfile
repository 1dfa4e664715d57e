# xmpp-cluster node image, built from a clean clone: docker build -t xmpp-cluster .
# Run one node (deploy/compose.yaml runs three):
#   docker run -e XMPP_CLUSTER_ADMIN_PASSWORD=... -p 5222:5222 -p 5223:5223 -p 2222:2222 -p 9464:9464 \
#     -v xmpp-data:/var/lib/xmpp-cluster xmpp-cluster --name cb1
# test/deploy/dockerfile.test.ts reads this file: stages, user, healthcheck, what is copied, ports.

# Stage 1: compile. Only what the build reads is copied: the lock file, both
# tsconfigs and the sources. tsconfig.build.json compiles src/ and cluster/
# alone, so nothing of test/ is built, let alone shipped.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY cluster ./cluster
RUN npm run build:release

# Stage 2: the production dependencies alone (no typescript, no vitest).
FROM node:20-bookworm-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Stage 3: the image. A system user without a shell owns the data directory;
# the node never runs as root, so it binds 2222 (SSH) and 5300 (DNS), not 22 and 53.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /opt/xmpp-cluster
RUN useradd --system --no-create-home --home-dir /var/lib/xmpp-cluster --shell /usr/sbin/nologin xmpp-cluster \
 && mkdir -p /var/lib/xmpp-cluster && chown xmpp-cluster:xmpp-cluster /var/lib/xmpp-cluster && chmod 0700 /var/lib/xmpp-cluster
COPY --from=deps /src/package.json ./package.json
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER xmpp-cluster
VOLUME /var/lib/xmpp-cluster
# 5222, 5223 call bridges (XEP-0114); 5269 federation; 2222 the MMP over SSH;
# 5999 cluster peer links; 9464 metrics and health; 5300 the DNS responder (udp and tcp).
EXPOSE 5222/tcp 5223/tcp 5269/tcp 2222/tcp 5999/tcp 9464/tcp 5300/tcp 5300/udp
# /healthz of the metrics listener: the process is alive and its event loop is not stalled.
# Node's own fetch, so the image needs no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The node's address is the container's: interface a listens on all of it, and
# so does the metrics listener (the healthcheck above reaches it on loopback).
# Arguments given to `docker run` (--name, --iface ...) follow these.
ENTRYPOINT ["node", "dist/src/cli.js", "node", "--data-dir", "/var/lib/xmpp-cluster", "--address", "0.0.0.0", "--metrics-listen", "0.0.0.0:9464"]
