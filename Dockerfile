# xmpp-cluster node image. Build: docker build -t xmpp-cluster .
# Run:  docker run -e XMPP_CLUSTER_ADMIN_PASSWORD=... -p 5222:5222 -p 5223:5223 -p 2222:2222 \
#         -v xmpp-data:/var/lib/xmpp-cluster xmpp-cluster
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY cluster ./cluster
COPY test ./test
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /opt/xmpp-cluster
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
RUN useradd --system --home /var/lib/xmpp-cluster xmpp-cluster \
 && mkdir -p /var/lib/xmpp-cluster && chown xmpp-cluster /var/lib/xmpp-cluster && chmod 0700 /var/lib/xmpp-cluster
USER xmpp-cluster
VOLUME /var/lib/xmpp-cluster
EXPOSE 5222 5223 2222
# The node's address is the container's; interface a listens on all of it.
ENTRYPOINT ["node", "dist/src/cli.js", "node", "--data-dir", "/var/lib/xmpp-cluster", "--address", "0.0.0.0"]
