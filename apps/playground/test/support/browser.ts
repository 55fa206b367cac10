import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium (CI installs it; see .ci/run). */
export const chromiumPath = process.env.RECUR_CHROMIUM ?? '/usr/bin/chromium';

/** Whether browser tests can run here; under CI=true they must, so callers fail instead of skipping. */
export function chromiumAvailable(): boolean {
  return existsSync(chromiumPath);
}

/**
 * Headless chromium with WebGPU on SwiftShader (no GPU needed) and every background connection
 * off: the machine has no network, and the page must need none.
 */
export function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable())
    throw new Error(
      `no chromium at ${chromiumPath}: apt-get install -y --no-install-recommends chromium (or set RECUR_CHROMIUM)`,
    );
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-angle=swiftshader',
      '--disable-gpu-sandbox',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
