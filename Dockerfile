# Image of the api and the worker (one image, two commands). The sandbox image is separate:
# libs/sandbox/image/.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The playground page (dist/playground) is built here too: the api serves it at /.
RUN npx tsc -p tsconfig.build.json && npx tsx tools/playground.ts --force && npm prune --omit=dev

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/tools/register-paths.cjs ./tools/register-paths.cjs
COPY package.json ./
USER node
CMD ["node", "-r", "./tools/register-paths.cjs", "dist/apps/api/src/main.js"]
