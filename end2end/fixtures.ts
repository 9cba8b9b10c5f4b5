/**
 * Shared Playwright fixtures and helpers for the Natter end-to-end tests.
 *
 * - `server` (worker-scoped): one Natter server per worker, on a free port,
 *   with its own temporary SQLite database. Tests in one worker share it, so
 *   tests must create uniquely named accounts (see `uniqueName`).
 * - `baseURL` points at that server, so `page.goto('/login')` and the
 *   `request` fixture just work.
 * - `page` is watched for console errors, page errors and hydration warnings;
 *   any of them fails the test unless it called `allowConsoleErrors()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  type APIRequestContext,
  type APIResponse,
  type BrowserContextOptions,
  type ConsoleMessage,
  type Locator,
  type Page,
  test as base,
  expect,
} from '@playwright/test';
import { repoRoot, screenshotDir, serverBinary, siteRoot } from './paths';

export { expect };

/** The password every demo account uses; the login page shows it in demo mode. */
export const DEMO_PASSWORD = 'natter-demo';

/** The one message for any failed login, whichever field was wrong. */
export const WRONG_CREDENTIALS = 'Wrong username or password.';

/**
 * Chromium logs a console error for every HTTP error response a page fetches,
 * including server functions that correctly refuse a request (wrong password,
 * taken username). Tests of such refusals allow exactly these (4xx only: a 5xx
 * would mean the server broke, not that it said no).
 */
export const HTTP_4XX_RESOURCE_ERROR = /Failed to load resource: the server responded with a status of 4\d\d/;

/**
 * Sign-up and login hash passwords with Argon2, which is slow in an
 * unoptimised debug build; give those round trips more than the default.
 */
export const AUTH_TIMEOUT = 15_000;

/**
 * Loading and compiling the debug build's WASM bundle and hydrating the page. On a
 * busy machine (two browsers and a server per worker, two workers) that alone can take
 * well over ten seconds.
 */
export const HYDRATION_TIMEOUT = 30_000;

export type NatterServer = {
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  baseURL: string;
  port: number;
  /** The SQLite file the server was told to use (it may not exist until the server creates it). */
  dbPath: string;
  /** Temporary directory holding the database and `server.log`; removed at teardown. */
  dataDir: string;
};

type WorkerFixtures = {
  /** Extra environment for this worker's server; set per file with `test.use({ serverEnv: {...} })`. */
  serverEnv: Record<string, string>;
  server: NatterServer;
};

type TestFixtures = {
  /**
   * Stop console errors and page errors from failing this test. With a
   * pattern, only matching messages are allowed; without one, all are.
   */
  allowConsoleErrors: (pattern?: RegExp) => void;
  /** The console problems recorded so far that would fail the test (for explicit assertions). */
  consoleProblems: () => string[];
  /**
   * Opens a page in a new browser context (its own cookies, i.e. a second,
   * independent visitor). Its console is watched like `page`'s; it is closed
   * after the test.
   */
  newSessionPage: (options?: BrowserContextOptions) => Promise<Page>;
  _consoleWatcher: ConsoleWatcher;
};

// ---------------------------------------------------------------------------
// Console watching
// ---------------------------------------------------------------------------

type Problem = { text: string; fatal: boolean };

/** Collects console output from every page of one test. */
class ConsoleWatcher {
  private readonly entries: Problem[] = [];
  private readonly allowed: RegExp[] = [];
  private allowAll = false;

  watch(page: Page): void {
    page.on('console', (msg) => this.onConsole(msg));
    page.on('pageerror', (error) => {
      this.entries.push({ text: `[pageerror] ${error.stack ?? `${error.name}: ${error.message}`}`, fatal: true });
    });
    // A page whose policy allows none of its own scripts cannot hydrate: say which response
    // it was, with its headers, next to the violations it causes.
    page.on('response', async (response) => {
      if (response.request().resourceType() !== 'document' || response.status() >= 300) return;
      const headers = await response.allHeaders();
      if (!(headers['content-type'] ?? '').startsWith('text/html')) return;
      const policy = headers['content-security-policy'] ?? '';
      if (policy.includes('nonce-')) return;
      this.entries.push({
        text: `[page without a page policy] ${response.status()} ${response.url()} ${JSON.stringify(headers)}`,
        fatal: true,
      });
    });
  }

  allow(pattern?: RegExp): void {
    if (pattern) this.allowed.push(pattern);
    else this.allowAll = true;
  }

  /** Recorded entries that fail the test. */
  problems(): string[] {
    if (this.allowAll) return [];
    return this.entries
      .filter((e) => e.fatal && !this.allowed.some((re) => re.test(e.text)))
      .map((e) => e.text);
  }

  /** Everything recorded, fatal or not, for the report. */
  all(): string[] {
    return this.entries.map((e) => e.text);
  }

  private onConsole(msg: ConsoleMessage): void {
    const type = msg.type();
    if (type !== 'error' && type !== 'warning') return;
    const text = msg.text();
    const url = msg.location().url;
    // A browser asks for /favicon.ico on its own; a 404 for it says nothing about the app.
    if (/favicon\.ico/.test(url) && /Failed to load resource/.test(text)) return;
    const where = url ? ` (at ${url}:${msg.location().lineNumber})` : '';
    // Errors always count. Warnings only count when they are about hydration:
    // a hydration mismatch means the server and client rendered different
    // markup, which breaks interactivity in ways the assertions may not see.
    const fatal = type === 'error' || /hydrat/i.test(text);
    this.entries.push({ text: `[console.${type}] ${text}${where}`, fatal });
  }
}

// ---------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------

const HEALTH_TIMEOUT_MS = 30_000;
const HEALTH_POLL_MS = 100;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Asks the OS for a free loopback port. (Another process could take it before the server binds; unlikely enough.) */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      if (address && typeof address === 'object') {
        const { port } = address;
        probe.close(() => resolve(port));
      } else {
        probe.close(() => reject(new Error('could not determine a free port')));
      }
    });
  });
}

export function logTail(logPath: string): string {
  let text: string;
  try {
    text = fs.readFileSync(logPath, 'utf8');
  } catch {
    return '(no server log)';
  }
  const lines = text.trimEnd().split('\n');
  return lines.slice(-LOG_TAIL_LINES).join('\n') || '(server log is empty)';
}

export type ExitState = { exited: boolean; description?: string };

/** Resolves once `child` has exited or failed to start; records how. */
export function watchExit(child: ChildProcess, state: ExitState): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      state.exited = true;
      state.description = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      state.exited = true;
      state.description = `could not be started: ${error.message}`;
      resolve();
    });
  });
}

export async function waitForHealthy(baseURL: string, state: ExitState): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (state.exited) throw new Error(`the server ${state.description} before becoming healthy`);
    try {
      const response = await fetch(`${baseURL}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(HEALTH_POLL_MS);
  }
  throw new Error(`GET ${baseURL}/healthz did not return 200 within ${HEALTH_TIMEOUT_MS / 1000} s`);
}

/** SIGTERM, a grace period for a clean shutdown, then SIGKILL. */
async function stopServer(child: ChildProcess, state: ExitState, exited: Promise<void>): Promise<void> {
  if (state.exited) return;
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(STOP_GRACE_MS)]);
  if (!state.exited) {
    child.kill('SIGKILL');
    await exited;
  }
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

export const test = base.extend<TestFixtures, WorkerFixtures>({
  serverEnv: [{}, { scope: 'worker', option: true }],

  server: [
    async ({ serverEnv }, use) => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'natter-e2e-'));
      const dbPath = path.join(dataDir, 'natter.db');
      const logPath = path.join(dataDir, 'server.log');
      const port = await freePort();
      const metricsPort = await freePort();
      const baseURL = `http://127.0.0.1:${port}`;

      // The child writes straight into the log file; our copy of the fd can close at once.
      const logFd = fs.openSync(logPath, 'a');
      const child = spawn(serverBinary(), [], {
        cwd: repoRoot,
        stdio: ['ignore', logFd, logFd],
        env: {
          ...process.env,
          LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
          LEPTOS_SITE_ROOT: siteRoot,
          LEPTOS_SITE_PKG_DIR: 'pkg',
          LEPTOS_OUTPUT_NAME: 'natter',
          LEPTOS_ENV: 'DEV',
          NATTER_DATABASE_URL: `sqlite://${dbPath}`,
          // The default metrics address (127.0.0.1:9464) takes one server per machine.
          NATTER_METRICS_ADDR: `127.0.0.1:${metricsPort}`,
          NATTER_DEMO_MODE: 'true',
          // Every test signs up and calls from 127.0.0.1; the limits' own tests set them low.
          NATTER_SIGNUPS_PER_HOUR: '100000',
          NATTER_CALLS_PER_MINUTE: '1000',
          RUST_LOG: 'info',
          ...serverEnv,
        },
      });
      fs.closeSync(logFd);
      const state: ExitState = { exited: false };
      const exited = watchExit(child, state);

      const cleanUp = () => {
        // NATTER_E2E_KEEP_DATA=1 keeps the database and log for a post-mortem.
        if (process.env.NATTER_E2E_KEEP_DATA === '1') console.log(`[natter e2e] kept ${dataDir}`);
        else fs.rmSync(dataDir, { recursive: true, force: true });
      };

      try {
        await waitForHealthy(baseURL, state);
      } catch (error) {
        await stopServer(child, state, exited);
        const tail = logTail(logPath);
        cleanUp();
        throw new Error(
          `Natter server on ${baseURL} did not start: ${(error as Error).message}\n` +
            `--- last ${LOG_TAIL_LINES} lines of the server log ---\n${tail}`,
        );
      }

      await use({ baseURL, port, dbPath, dataDir });

      // A server that died while the tests ran explains a lot of failures: say so.
      const diedEarly = state.exited ? state.description : undefined;
      await stopServer(child, state, exited);
      const tail = logTail(logPath);
      cleanUp();
      if (diedEarly) {
        throw new Error(
          `Natter server on ${baseURL} ${diedEarly} while tests were running.\n` +
            `--- last ${LOG_TAIL_LINES} lines of the server log ---\n${tail}`,
        );
      }
    },
    // Starting can take up to the 30 s health timeout on its own, plus 5 s to stop.
    { scope: 'worker', timeout: 60_000 },
  ],

  baseURL: async ({ server }, use) => {
    await use(server.baseURL);
  },

  _consoleWatcher: async ({}, use, testInfo) => {
    const watcher = new ConsoleWatcher();
    await use(watcher);
    // Runs after the test body and after the pages that report here.
    const all = watcher.all();
    if (all.length > 0) {
      await testInfo.attach('browser-console', { body: all.join('\n'), contentType: 'text/plain' });
    }
    const problems = watcher.problems();
    if (problems.length > 0) {
      throw new Error(
        `The browser reported ${problems.length} console error(s), page error(s) or hydration warning(s):\n` +
          problems.map((p) => `  ${p}`).join('\n') +
          '\n(If they are expected, call allowConsoleErrors(pattern) in the test.)',
      );
    }
  },

  page: async ({ page, _consoleWatcher }, use) => {
    _consoleWatcher.watch(page);
    await use(page);
  },

  allowConsoleErrors: async ({ _consoleWatcher }, use) => {
    await use((pattern) => _consoleWatcher.allow(pattern));
  },

  consoleProblems: async ({ _consoleWatcher }, use) => {
    await use(() => _consoleWatcher.problems());
  },

  newSessionPage: async ({ browser, baseURL, _consoleWatcher }, use) => {
    const contexts: Awaited<ReturnType<typeof browser.newContext>>[] = [];
    await use(async (options = {}) => {
      const context = await browser.newContext({ baseURL, ...options });
      contexts.push(context);
      const page = await context.newPage();
      _consoleWatcher.watch(page);
      return page;
    });
    for (const context of contexts) await context.close();
  },
});

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/**
 * `test` on a server started with `env`. (`serverEnv` is worker-scoped, and Playwright
 * refuses `test.use` of a worker option inside a describe group; a derived test type gets
 * its own worker, and with it its own server, instead.) The cast only quiets the type of
 * the `option` flag, which Playwright's public types leave out of `extend`.
 */
export function withServerEnv(env: Record<string, string>) {
  return test.extend<object, { serverEnv: Record<string, string> }>({
    serverEnv: [env, { scope: 'worker', option: true } as { scope: 'worker' }],
  });
}

/**
 * Waits until the client bundle has hydrated the page. The app sets
 * `data-hydrated="true"` on <body> once hydration is done; a click before
 * that is silently lost.
 */
export async function waitForHydration(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: HYDRATION_TIMEOUT });
}

/**
 * Resolves once `page` has run the tasks it had queued when this was called: what it had
 * received by then (a socket frame, a response) has been applied, and the DOM shows it.
 * For checks that something did NOT happen (a duplicate, a second request), after waiting
 * for what would have made it happen. Timers only: requestAnimationFrame does not run in
 * a tab that is not in front.
 */
export async function settled(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((resolve) => setTimeout(() => setTimeout(resolve, 0), 0)));
}

/** Navigates to `path` and waits for hydration. */
export async function gotoHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await waitForHydration(page);
}

const NAME_MAX = 20;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * `prefix` plus a random suffix, at most 20 characters of [a-z0-9_], so that
 * tests sharing one server never collide on usernames.
 */
export function uniqueName(prefix: string): string {
  if (!/^[a-z0-9_]*$/.test(prefix)) throw new Error(`uniqueName: prefix must match [a-z0-9_]*, got ${prefix}`);
  // Keep at least 6 random characters (36^6 ≈ 2 billion), at most 8.
  const head = prefix.slice(0, NAME_MAX - 6);
  const suffixLength = Math.min(8, NAME_MAX - head.length);
  let suffix = '';
  for (let i = 0; i < suffixLength; i++) suffix += ALPHABET[randomInt(ALPHABET.length)];
  return head + suffix;
}

/** The app's "Log out" button: its presence is how the tests tell someone is logged in. */
export function logOutButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Log out', exact: true });
}

/** The page header (banner landmark), which shows the logged-in user's display name. */
export function header(page: Page): Locator {
  return page.getByRole('banner');
}

/** The conversation list: a navigation landmark or region labelled "Conversations". */
export function conversations(page: Page): Locator {
  return page
    .getByRole('navigation', { name: 'Conversations', exact: true })
    .or(page.getByRole('region', { name: 'Conversations', exact: true }));
}

/** Label locators use exact matching: "Password" must not also match e.g. "Show password". */
export function field(page: Page, label: 'Username' | 'Display name' | 'Password'): Locator {
  return page.getByLabel(label, { exact: true });
}

export type NewAccount = { username: string; displayName: string; password: string };

/** Signs up through the UI; ends logged in on `/`. */
export async function signUp(page: Page, account: NewAccount): Promise<void> {
  await gotoHydrated(page, '/signup');
  await field(page, 'Username').fill(account.username);
  await field(page, 'Display name').fill(account.displayName);
  await field(page, 'Password').fill(account.password);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expect(page).toHaveURL('/', { timeout: AUTH_TIMEOUT });
  await expect(logOutButton(page)).toBeVisible({ timeout: AUTH_TIMEOUT });
  // If the app got here by a full page load, the next click needs hydration too.
  await waitForHydration(page);
}

/** Logs in through the UI; ends logged in. */
export async function logIn(page: Page, username: string, password: string): Promise<void> {
  await gotoHydrated(page, '/login');
  await field(page, 'Username').fill(username);
  await field(page, 'Password').fill(password);
  // exact: in demo mode there are also "Log in as Alice" etc.
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await expect(logOutButton(page)).toBeVisible({ timeout: AUTH_TIMEOUT });
  await waitForHydration(page);
}

/** Uses a one-click demo login button on /login; ends logged in on `/`. */
export async function logInAsDemoUser(page: Page, name: 'Alice' | 'Bob' | 'Carol' | 'Admin'): Promise<void> {
  await gotoHydrated(page, '/login');
  await page.getByRole('button', { name: `Log in as ${name}`, exact: true }).click();
  await expect(page).toHaveURL('/', { timeout: AUTH_TIMEOUT });
  await expect(logOutButton(page)).toBeVisible({ timeout: AUTH_TIMEOUT });
  await waitForHydration(page);
}

/**
 * Saves a screenshot for humans to look at (end2end/screenshots/<name>).
 * Nothing compares these; they show what the UI looks like after a run.
 */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir, name), fullPage: true, animations: 'disabled' });
}

// ---------------------------------------------------------------------------
// Chat helpers
// ---------------------------------------------------------------------------

/** A fresh account with a distinct display name (`<Label> <username>`), so names never collide. */
export function freshAccount(prefix: string, label: string): NewAccount {
  const username = uniqueName(prefix);
  return { username, displayName: `${label} ${username}`, password: 'correct horse battery' };
}

/** The open conversation: a region labelled with its title. */
export function chatWindow(page: Page, title: string): Locator {
  return page.getByRole('region', { name: title, exact: true });
}

/** The message log of the open conversation. */
export function messageLog(page: Page): Locator {
  return page.getByRole('log', { name: 'Messages', exact: true });
}

/** Message bodies in the log with exactly this text (whitespace-normalised). */
export function messageInLog(page: Page, text: string): Locator {
  return messageLog(page).getByText(text, { exact: true });
}

/** The composer's text box. */
export function composer(page: Page): Locator {
  return page.getByRole('textbox', { name: 'Message', exact: true });
}

/** The typing indicator of the open conversation (a status region; not the "Reconnecting…" one). */
export function typingIndicator(page: Page, title: string): Locator {
  return chatWindow(page, title).getByRole('status').filter({ hasNotText: 'Reconnecting' });
}

/** The incoming-call modal (a dialog with "Accept"), on any tab of the person called. */
export function incomingCall(page: Page): Locator {
  return page.getByRole('dialog', { name: /./ }).filter({ has: page.getByRole('button', { name: 'Accept' }) });
}

/** The link to a conversation in the sidebar list, by the other person's display name. */
export function conversationLink(page: Page, title: string): Locator {
  return conversations(page).getByRole('link', { name: title });
}

/**
 * "New conversation" -> search for the person -> click them. Ends on /c/<id> with the
 * conversation on screen; returns the conversation id.
 */
export async function openDirectConversation(page: Page, other: NewAccount): Promise<string> {
  await conversations(page).getByRole('button', { name: 'New conversation', exact: true }).click();
  await page.getByLabel('Search people', { exact: true }).fill(other.username);
  await page.getByRole('button', { name: `@${other.username}` }).click();
  await expect(page).toHaveURL(/\/c\/[A-Za-z0-9-]+$/);
  const id = new URL(page.url()).pathname.split('/').pop()!;
  await expect(chatWindow(page, other.displayName)).toBeVisible();
  return id;
}

/** Sends `text` from the composer with Enter and waits until the server has confirmed it. */
export async function sendMessage(page: Page, text: string): Promise<void> {
  const answered = page.waitForResponse(
    (r) => new URL(r.url()).pathname === '/api/send_message' && r.request().method() === 'POST',
  );
  await composer(page).fill(text);
  await composer(page).press('Enter');
  const response = await answered;
  expect(response.status(), `POST /api/send_message for ${JSON.stringify(text)}`).toBe(200);
}

/**
 * Calls a server function the way the app does: POST, form-encoded, from this site's
 * origin. With a page's `request`, the browser context's cookies go along.
 */
export function callServerFn(
  request: APIRequestContext,
  origin: string,
  name: string,
  form: Record<string, string | number>,
) {
  return request.post(`/api/${name}`, {
    form,
    headers: { Origin: new URL(origin).origin },
    maxRedirects: 0,
  });
}

/** A refusal: this status and a JSON error body (as every server function answers); returns the body. */
export async function expectRefused(response: APIResponse, status: number, what: string): Promise<string> {
  const text = await response.text();
  expect(response.status(), `${what}: ${text}`).toBe(status);
  expect(response.headers()['content-type'] ?? '', `${what}: content type`).toContain('json');
  expect(() => JSON.parse(text), `${what}: body is JSON`).not.toThrow();
  return text;
}

/** Signs up through the server function (no UI): the session cookie lands in `request`'s jar. */
export async function signUpViaApi(request: APIRequestContext, origin: string, account: NewAccount): Promise<void> {
  const response = await callServerFn(request, origin, 'signup', {
    username: account.username,
    display_name: account.displayName,
    password: account.password,
  });
  expect(response.status(), `sign-up of ${account.username}: ${await response.text()}`).toBeLessThan(300);
}

/** Any JSON frame seen on one of a page's WebSockets to /ws. */
export type SocketFrame = { type?: string; topic?: string; code?: string; [key: string]: unknown };

/**
 * Records the frames of every WebSocket to /ws a page opens (the app's own and any
 * a test opens with page.evaluate). Create it before the page loads the app.
 */
export class SocketWatch {
  /** Frames received, by socket, in the order the sockets were opened. */
  readonly sockets: { url: string; received: SocketFrame[]; sent: SocketFrame[]; closed: boolean; stale: boolean }[] =
    [];

  constructor(page: Page) {
    // A new document (a reload, or `goto`) ends the sockets of the one before, even when
    // Playwright reports their close events later: from here on "the page's socket" is one
    // this document opens, never a leftover that was subscribed before the load.
    page.on('domcontentloaded', () => {
      for (const entry of this.sockets) entry.stale = true;
    });
    page.on('websocket', (ws) => {
      if (new URL(ws.url()).pathname !== '/ws') return;
      const entry = {
        url: ws.url(),
        received: [] as SocketFrame[],
        sent: [] as SocketFrame[],
        closed: false,
        stale: false,
      };
      this.sockets.push(entry);
      const parse = (payload: string | Buffer): SocketFrame => {
        try {
          return JSON.parse(payload.toString()) as SocketFrame;
        } catch {
          return { type: '(not json)', raw: payload.toString() };
        }
      };
      ws.on('framereceived', (f) => entry.received.push(parse(f.payload)));
      ws.on('framesent', (f) => entry.sent.push(parse(f.payload)));
      ws.on('close', () => {
        entry.closed = true;
      });
    });
  }

  /** The sockets of the current document that are still open, oldest first. */
  current(): { received: SocketFrame[]; sent: SocketFrame[] }[] {
    return this.sockets.filter((s) => !s.closed && !s.stale);
  }

  /** Every frame received on any socket. */
  allReceived(): SocketFrame[] {
    return this.sockets.flatMap((s) => s.received);
  }

  /**
   * Waits until the page's newest open socket has been greeted (`hello`): from then on the
   * server delivers this tab what is sent to its user (calls, list and bell changes).
   */
  async waitForConnected(timeout = 15_000): Promise<void> {
    await expect
      .poll(
        () => {
          const open = this.current();
          return open[open.length - 1]?.received.some((f) => f.type === 'hello') ?? false;
        },
        { message: "the page's WebSocket is connected (hello)", timeout },
      )
      .toBe(true);
  }

  /** Waits until one of the page's sockets has received a frame that `match` accepts. */
  async waitForFrame(match: (frame: SocketFrame) => boolean, what: string, timeout = 15_000): Promise<void> {
    await expect
      .poll(() => this.allReceived().some(match), { message: `the page's WebSocket received ${what}`, timeout })
      .toBe(true);
  }

  /** Waits until one of the page's sockets has received the live event of a message with this body. */
  async waitForMessage(body: string, timeout = 15_000): Promise<void> {
    await this.waitForFrame(
      (f) => {
        const event = f.event as { kind?: string; message?: { body?: string } } | undefined;
        return f.type === 'event' && event?.kind === 'message_created' && event.message?.body === body;
      },
      `the message_created event of ${JSON.stringify(body)}`,
      timeout,
    );
  }

  /** Waits until the newest open socket was told it is subscribed to the conversation. */
  async waitForSubscribed(conversationId: string, timeout = 15_000): Promise<void> {
    const topic = `conversation:${conversationId}`;
    await expect
      .poll(
        () => {
          const open = this.current();
          const current = open[open.length - 1];
          return current?.received.some((f) => f.type === 'subscribed' && f.topic === topic) ?? false;
        },
        { message: `the page's WebSocket subscribed to ${topic}`, timeout },
      )
      .toBe(true);
  }
}

/**
 * Resolves once everything the server had sent to the page's current socket before this
 * call has arrived there. For checks that something did NOT reach a tab: without it, a
 * frame still on its way passes the check. `page`'s user marks everything read (`all_read`,
 * with `page`'s cookies); the server tells that user's sockets so on the user's own topic,
 * behind whatever it had queued for them before (one connection's frames arrive in order).
 * Marking read is the side effect: use it where nothing unread matters any more.
 */
export async function heardAllSentSoFar(page: Page, sockets: SocketWatch): Promise<void> {
  const open = sockets.current();
  const socket = open[open.length - 1];
  expect(socket, "the page's WebSocket is open").toBeTruthy();
  const from = socket.received.length;
  const marked = await callServerFn(page.request, page.url(), 'all_read', {});
  expect(marked.status(), `all_read: ${await marked.text()}`).toBe(200);
  await expect
    .poll(
      () =>
        socket.received
          .slice(from)
          .some((f) => f.type === 'event' && (f.event as { kind?: string } | undefined)?.kind === 'notifications_changed'),
      { message: "the page's WebSocket heard the notifications_changed that all_read sends", timeout: 15_000 },
    )
    .toBe(true);
}

/**
 * Opens (or reuses) the direct conversation with `other` through the server functions,
 * as the user whose cookies `request` carries; returns the conversation id.
 */
export async function openDirectViaApi(request: APIRequestContext, origin: string, other: NewAccount): Promise<string> {
  const found = await callServerFn(request, origin, 'search_users', { query: other.username });
  expect(found.status(), `search_users ${other.username}`).toBe(200);
  const users = (await found.json()) as { id: string; username: string }[];
  const user = users.find((u) => u.username === other.username);
  expect(user, `search_users finds ${other.username}`).toBeTruthy();
  const opened = await callServerFn(request, origin, 'open_direct', { user_id: user!.id });
  expect(opened.status(), `open_direct with ${other.username}`).toBe(200);
  return (await opened.json()) as string;
}

/** One person in a test: their account, their page and what their sockets saw. */
export type Person = { account: NewAccount; page: Page; sockets: SocketWatch };

/** Ann and Ben, fresh accounts, each in their own browser context (own cookies, own socket). */
export async function twoPeople(page: Page, newSessionPage: () => Promise<Page>): Promise<[Person, Person]> {
  const pageB = await newSessionPage();
  const ann: Person = { account: freshAccount('ann_', 'Ann'), page, sockets: new SocketWatch(page) };
  const ben: Person = { account: freshAccount('ben_', 'Ben'), page: pageB, sockets: new SocketWatch(pageB) };
  await Promise.all([signUp(ann.page, ann.account), signUp(ben.page, ben.account)]);
  return [ann, ben];
}

/**
 * Ann opens the direct conversation with Ben (through the server function), then both load
 * it by its address. Returns once both tabs are subscribed to it, i.e. live.
 */
export async function bothInConversation(ann: Person, ben: Person): Promise<string> {
  const id = await openDirectViaApi(ann.page.request, ann.page.url(), ben.account);
  await Promise.all([gotoHydrated(ann.page, `/c/${id}`), gotoHydrated(ben.page, `/c/${id}`)]);
  await expect(chatWindow(ann.page, ben.account.displayName)).toBeVisible();
  await expect(chatWindow(ben.page, ann.account.displayName)).toBeVisible();
  await Promise.all([ann.sockets.waitForSubscribed(id), ben.sockets.waitForSubscribed(id)]);
  return id;
}
