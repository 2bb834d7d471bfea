// A real browser for the dashboard's tests and benchmark: Debian's Chromium driven by
// playwright-core, headless, with a fresh profile (playwright makes a new empty user data
// directory per launch) and no background traffic.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run npm run setup (it installs Debian's chromium) or set FLOTILLA_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
