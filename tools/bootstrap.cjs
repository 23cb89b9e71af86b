// Installs npm dependencies when they are missing or older than the lock file. Plain Node, no deps:
// it runs before anything is installed.
const { existsSync, rmSync, statSync } = require('node:fs');
const { execSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  // `npm ci`: exactly what the lock says, as the Dockerfile installs it. (The lock can be used by
  // `ci` because package.json overrides msgpackr-extract to 3.0.4, the newest release whose
  // platform packages are all published; later ones declare some that were never published.)
  console.log('[bootstrap] installing npm dependencies (npm ci)…');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
// The `node` devDependency (Node 22, for tools/test.ts) links node_modules/.bin/node, which npm
// scripts and npx put first on PATH: every `#!/usr/bin/env node` tool would silently run on it.
// package.json's postinstall removes the link after `npm ci`/`npm install`; `npm install <pkg>`
// runs no root postinstall, so this removes it too, before `npm test` or `npm run up` start tsx.
rmSync(path.join(root, 'node_modules', '.bin', 'node'), { force: true });
