# The cvmflow image: one image for the worker, the trigger server (`serve`) and the simulator (`sim`); the command
# picks the role. It runs the build (dist/: JavaScript and the prebuilt workflow bundle), not the TypeScript sources,
# so it starts fast and carries no compiler.
FROM node:20.18.1-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts skips the postinstall that fetches the Temporal CLI for local development.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:20.18.1-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Dependencies first, so a source change does not reinstall them: production ones only, from the lock file.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY bin ./bin
COPY --from=build /app/dist ./dist

USER node
ENTRYPOINT ["node", "bin/cvmflow.mjs"]
CMD ["worker"]
