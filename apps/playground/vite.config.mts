import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * The playground is built to static files (dist/playground) that the api serves at `/`; there is
 * no dev server in the product. Preact's JSX goes through Vite's own transform (Oxc), so no Babel
 * preset is needed for a build.
 */
export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: path.resolve(root, '../../dist/playground'),
    emptyOutDir: true,
    // Hashed names under /assets, far from the API's paths (see apps/api/src/common/root-alias.ts).
    assetsDir: 'assets',
    // Files, not data: URLs, so the page's content policy can stay strict.
    assetsInlineLimit: 0,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
  },
});
