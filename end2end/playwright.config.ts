import { defineConfig } from '@playwright/test';

/**
 * Natter end-to-end tests.
 *
 * global-setup.ts builds the app once; each worker then starts its own server
 * binary on a free port with a fresh SQLite database (see fixtures.ts), so no
 * `webServer` entry is needed here and workers never share state.
 *
 * Environment:
 *   NATTER_CHROMIUM        Chromium binary (default /usr/bin/chromium)
 *   NATTER_E2E_SKIP_BUILD  =1 skips `cargo leptos build` in global setup
 *   NATTER_SERVER_BIN      server binary (default <repo>/target/debug/natter)
 *   NATTER_SITE_ROOT       the site it serves (default <repo>/target/site)
 *   NATTER_NGINX           nginx for behind-proxy.spec.ts (default /usr/sbin/nginx)
 *   NATTER_E2E_KEEP_DATA   =1 keeps each worker's temp dir (database + server.log)
 */
export default defineConfig({
  testDir: 'tests',
  globalSetup: './global-setup.ts',
  // The machine has 2 cores; each worker also runs its own server process.
  workers: 2,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  // Budgets for a debug build (unoptimised server, unoptimised WASM) on a machine whose
  // cores are shared with the servers, the browsers and whatever else CI runs: a test that
  // signs up two people and opens a conversation in two browsers can spend half a minute
  // on that alone. Heavier tests (calls, several browsers, restarting the server) add
  // `test.slow()` or their own `test.setTimeout`. Waits for something that must happen
  // quickly (a message within a second) keep their own short timeouts.
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    viewport: { width: 1280, height: 800 },
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          // Debian's Chromium: Playwright's own browser download does not work here.
          executablePath: process.env.NATTER_CHROMIUM ?? '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--disable-quic',
            '--no-first-run',
            // Calls: getUserMedia gets a fake camera and microphone without a permission prompt.
            '--use-fake-ui-for-media-stream',
            '--use-fake-device-for-media-stream',
          ],
        },
      },
    },
  ],
});
