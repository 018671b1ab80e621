FROM node:20-bookworm-slim
# pg_dump/pg_restore for backups must match the server's major version (15).
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV NODE_OPTIONS=--openssl-legacy-provider MALLOC_ARENA_MAX=2
USER node
CMD ["node", "--import", "tsx", "workers/all.ts"]
