import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
/** Screenshots of the e2e runs (gitignored; CI keeps them as artifacts). */
export const artifactsDir = `${repoRoot}.artifacts/e2e/`;

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: `${artifactsDir}${name}.png`, fullPage: true });
}

/** Waits until the page's current action is over (body[data-state=ready]). */
export async function settled(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.state === 'ready', undefined, { timeout, polling: 100 });
}

/** The page's message box text, or '' when hidden. */
export async function message(page: Page): Promise<string> {
  return page.evaluate(() => {
    const box = document.getElementById('message');
    return box && !box.hidden ? (box.textContent ?? '') : '';
  });
}

/** Runs `act` (a click, a file choice) and waits until the page has finished one more action. */
export async function actAndSettle(page: Page, act: () => Promise<void>, timeout = 120_000): Promise<void> {
  const before = await page.evaluate(() => Number(document.body.dataset.done ?? 0));
  await act();
  await page.waitForFunction(
    (n) => Number(document.body.dataset.done ?? 0) > n && document.body.dataset.state === 'ready',
    before,
    { timeout, polling: 100 },
  );
}
