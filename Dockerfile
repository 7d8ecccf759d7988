# kubegate: one image for every component (the first argument picks it: gateway, apiserver, webhook,
# node-agent, apiserver-proxy). `npm run image` assembles the same image without a Docker engine
# (src/devcluster/kubegate-image.ts); kubegate-image.test.ts fails when the two part ways.
#
# Build it from the files git tracks, as `npm run image` does, so that a manifest rendered into deploy/
# or a key left in the checkout does not ship:
#   git ls-files -z | tar --null -T - -cf - | docker build -t kubegate:dev -
# (`docker build .` works too, but sends untracked files along.)

# The Node the project's `node` devDependency pins, which `npm run image` packages.
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts skipped: the only ones are the `node` devDependency's binary download and esbuild's, and
# neither is needed to compile; the image has its own Node 24.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# The one difference from `npm run image` that stays: this image is Debian's, with its shell, apt, npm
# and the base image's NODE_VERSION and YARN_VERSION variables, because `docker build` needs a shell and
# a package manager to RUN the install below. `npm run image` takes the same bookworm programs and only
# the libraries they load from its machine, so its image has no shell.
FROM node:${NODE_VERSION}-bookworm-slim
# ip and iptables for the node agent; the user 65532 named, as in `npm run image`'s /etc/passwd, so that
# its HOME is /home/nonroot and not /.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --home-dir /home/nonroot --no-create-home --shell /usr/sbin/nologin nonroot \
 && mkdir /home/nonroot
WORKDIR /app
COPY package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
# `kubegate manifests` renders these.
COPY deploy ./deploy
ENV NODE_ENV=production
# Non-root by default (the manifests set the same ids); only the node agent's containers run as root.
USER 65532:65532
# A 2 MiB young generation: with thousands of long-lived watch connections, the default (up to
# 16 MiB per semi-space) let RSS run ~60 MB above the live set between collections. Measured in
# bench/ (which starts the gateway with these same flags): 2000 watches peaked at 298 MB instead of
# 353-369 MB, with no measurable CPU cost per passthrough request. Node by its path: the pinned one
# this image holds, whatever PATH a pod spec sets.
ENTRYPOINT ["/usr/local/bin/node", "--max-semi-space-size=2", "/app/bin/kubegate.js"]
CMD ["--help"]
