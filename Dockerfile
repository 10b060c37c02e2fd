# The cvmflow image: one image for the worker, the trigger server (`serve`) and the simulator (`sim`); the command
# picks the role. cvmflow runs from its TypeScript sources through tsx, as on a developer's machine.
FROM node:20.18.1-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Dependencies first, so a source change does not reinstall them. --ignore-scripts skips the postinstall that
# fetches the Temporal CLI for local development: the image talks to a Temporal server, it never runs one.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src

# tsx compiles on the fly and caches in the home directory; the unprivileged user owns nothing else.
USER node
ENTRYPOINT ["node", "bin/cvmflow.mjs"]
CMD ["worker"]
