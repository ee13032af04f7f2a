# The autoresearch image (workers and CLI): Node for the worker, git for the content store, Python and
# uv for the targets. All of it is installed here; nothing is downloaded when a container starts (a
# target's own `uv sync` fetches what the target needs, once per training slot).
#
# GPUs: PyTorch's Linux wheels bring their own CUDA libraries and the NVIDIA container toolkit mounts the
# driver, so this image trains on the GPUs docker-compose.yml reserves as it is. A target that needs the
# CUDA toolkit itself (nvcc, to compile kernels) needs a CUDA base instead: replace the FROM line with
#   FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04
#   COPY --from=node:20-bookworm /usr/local/ /usr/local/
# (the second line brings Node), and build it with `docker compose build gpu-worker`.
FROM node:20-bookworm

# safe.directory: target repositories are mounted from the host and may belong to another user.
# bubblewrap: the training sandbox (training/sandbox.ts); as the non-root user below it builds its
# namespaces in a user namespace of its own, which docker-compose.yml's security_opt lets it make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git python3 python3-venv python3-pip bubblewrap \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-cache-dir --break-system-packages uv==0.13.8 \
    && git config --system --add safe.directory '*'

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .

# /data is the home of whichever user runs the worker (docker-compose.yml picks the target repositories'
# owner): the tool's folder (AUTORESEARCH_HOME: clones of remotes, uv's tools) and uv's cache live there,
# on a volume. `autoresearch` on PATH is for `docker compose exec <worker> autoresearch ...`.
RUN ln -s /app/bin/autoresearch.js /usr/local/bin/autoresearch && mkdir -p /data && chmod 1777 /data
ENV HOME=/data AUTORESEARCH_HOME=/data/autoresearch
USER 1000:1000

ENTRYPOINT ["node", "/app/bin/autoresearch.js"]
CMD ["worker"]
