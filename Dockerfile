# An autoresearch worker image: Node for the worker, git for the content store, Python + uv for targets.
# For GPU training, base it on an image with CUDA and run with `--gpus all` (see docker-compose.yml).
FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends git python3 python3-venv python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --break-system-packages uv
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENTRYPOINT ["node", "bin/autoresearch.js"]
CMD ["worker"]
