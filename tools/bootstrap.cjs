// Installs npm dependencies when they are missing or older than the lock file. Plain Node, no deps:
// it runs before anything is installed.
const { existsSync, statSync } = require('node:fs');
const { execSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  // `npm install` rather than `npm ci`: npm 11 rejects this lock file in `ci` for optional
  // platform packages (msgpackr-extract's darwin/win builds) that it never needs on Linux.
  console.log('[bootstrap] installing npm dependencies…');
  execSync('npm install --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
