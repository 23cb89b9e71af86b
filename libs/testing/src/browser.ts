import type { Browser } from 'playwright-core';
import { ensureDebianPackages } from './debian-packages';

/** Debian's Chromium: playwright-core drives it, and downloads no browser of its own. */
export const CHROMIUM = '/usr/bin/chromium';

/** Installs Debian's `chromium` if missing (the first time, a minute or two of apt-get). */
export function ensureChromium(log: (line: string) => void = () => undefined): string {
  ensureDebianPackages({ chromium: 'chromium' }, log);
  return CHROMIUM;
}

/** Starts headless Chromium (installing it when missing) for tests that drive a page. */
export async function launchChromium(log?: (line: string) => void): Promise<Browser> {
  const executablePath = ensureChromium(log);
  // Loaded here, not at the top: only browser tests pay for loading playwright-core.
  const { chromium } = await import('playwright-core');
  // Root has no user namespaces for Chromium's sandbox in this container: run without it, as
  // playwright does by default (`chromiumSandbox: false`).
  return chromium.launch({ executablePath, headless: true });
}
