# syntax=docker/dockerfile:1
# Images: `api`, `worker-cpu` (Node 22 LTS on Debian bookworm) and `worker-gpu` (CUDA 13 + cuDNN 9 runtime, with
# Node 22 copied in). Packages come only from Debian's and the npm registry; every install step is
# scripts/image-install.sh, which CI runs in a fresh clone (packages/platform/test/image-install.test.ts).
#   docker build --target api -t npo-forge-api .      (docker compose builds all three)
ARG NODE_IMAGE=node:22-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04

FROM ${NODE_IMAGE} AS node

FROM node AS app
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates openssl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN bash scripts/image-install.sh worker-cpu
ENV NODE_ENV=production DATA_DIR=/data BUILTIN_MODELS_DIR=/app/models

FROM app AS api
EXPOSE 3000
CMD ["npx", "tsx", "apps/api/src/server.ts"]

FROM app AS worker-cpu
ENV EXECUTION_PROVIDER=cpu
CMD ["npx", "tsx", "apps/worker/src/main.ts"]

FROM ${CUDA_IMAGE} AS worker-gpu
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /app
COPY . .
RUN bash scripts/image-install.sh worker-gpu
ENV NODE_ENV=production DATA_DIR=/data BUILTIN_MODELS_DIR=/app/models EXECUTION_PROVIDER=cuda WORKER_QUEUES=train,samples
CMD ["npx", "tsx", "apps/worker/src/main.ts"]
