# syntax=docker/dockerfile:1
# Node 24 LTS (supported until April 2028); the code also runs on Node 20.19+ and 22, and CI tests it
# on Node 20 (see docs/deployment.md). Multi-stage: compile with dev dependencies, run with the
# production ones only, as the unprivileged node user.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# HOST: a container is reached through its own interface, never its loopback.
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
EXPOSE 3000
# Liveness only: the process answers. Readiness (/readyz: Redis reachable, keyspace current) is
# for the load balancer; tying the container's health to Redis would mark every container
# unhealthy, and get them restarted, on one Redis blip.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# WORKERS defaults to one process per core in production; in a container limited to fewer cores
# than the host has, set it to the CPU limit.
CMD ["node", "dist/src/server.js"]
