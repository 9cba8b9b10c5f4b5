/**
 * Natter as it runs in production: behind nginx, which holds the certificate, speaks https
 * and passes each request on with the client's address. Natter is told its public address
 * (`public_url`) and to believe nginx alone (`trusted_proxies = 127.0.0.1`).
 *
 * The browser reaches https://localhost:<port>: a name, as people type one, and one the
 * certificate is made for. The certificate is self-signed, and the browser contexts are
 * told to accept it (ignoreHTTPSErrors). Chromium still counts such a page as a secure
 * context, which calls need for the camera (checked below).
 *
 * nginx and the server are started once for this file, and stopped after its last test.
 */
import http from 'node:http';
import type { Locator, Page } from '@playwright/test';
import {
  type Person,
  bothInConversation,
  callServerFn,
  expect,
  freePort,
  freshAccount,
  incomingCall,
  messageInLog,
  sendMessage,
  signUpViaApi,
  test as base,
  twoPeople,
  uniqueName,
} from '../fixtures';
import { type Answer, TlsProxy, proxyRequest } from '../proxy';
import { ControlledServer } from '../server-control';

type Site = { origin: string; port: number; server: ControlledServer };

const test = base.extend<object, { site: Site }>({
  site: [
    async ({}, use) => {
      // public_url must name nginx's port before either starts.
      const port = await freePort();
      const server = new ControlledServer({
        NATTER_PUBLIC_URL: `https://localhost:${port}`,
        NATTER_TRUSTED_PROXIES: '127.0.0.1',
        NATTER_DEMO_MODE: 'false',
        // The defaults, written out: the throttling test counts on them.
        NATTER_LOGIN_FAILURES_PER_ACCOUNT: '5',
        NATTER_LOGIN_FAILURES_PER_ADDRESS: '20',
      });
      let proxy: TlsProxy | undefined;
      try {
        await server.start();
        proxy = await TlsProxy.start(port, server.port);
        await use({ origin: proxy.origin, port, server });
      } finally {
        await proxy?.stop();
        await server.dispose();
      }
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  baseURL: async ({ site }, use) => {
    await use(site.origin);
  },
  newSessionPage: async ({ newSessionPage }, use) => {
    await use((options = {}) => newSessionPage({ ignoreHTTPSErrors: true, ...options }));
  },
});
test.use({ ignoreHTTPSErrors: true });

/** How long a call may take to connect, or its first remote frame to be decoded. */
const MEDIA_TIMEOUT = 30_000;

function callView(page: Page): Locator {
  return page.locator('section.call-view');
}

/** A server function called from the loopback address `from`, as a browser on the site would. */
function serverFnFrom(
  site: Site,
  from: string,
  name: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return proxyRequest(site.port, {
    method: 'POST',
    path: `/api/${name}`,
    localAddress: from,
    headers: { Origin: site.origin, 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

/** The wait a throttled login names (`{"TooManyAttempts":{"retry_after_secs":42}}`), in seconds. */
function retrySeconds(answer: Answer): number {
  try {
    const error = JSON.parse(answer.body) as { TooManyAttempts?: { retry_after_secs?: number } };
    return error.TooManyAttempts?.retry_after_secs ?? NaN;
  } catch {
    return NaN;
  }
}

test('two people sign up through the proxy, chat both ways over wss:// and hold a video call', async ({
  page,
  newSessionPage,
  site,
}) => {
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  for (const p of [ann, ben]) {
    expect(new URL(p.page.url()).origin).toBe(site.origin);
    expect(await p.page.evaluate(() => window.isSecureContext), 'a secure context (calls need one)').toBe(true);
  }
  await bothInConversation(ann, ben);
  for (const p of [ann, ben]) {
    expect(p.sockets.sockets[0]?.url, "the page's socket goes through the proxy over TLS").toMatch(
      new RegExp(`^wss://localhost:${site.port}/ws`),
    );
  }

  const hello = `through the proxy ${Date.now()}`;
  await sendMessage(ann.page, hello);
  await expect(messageInLog(ben.page, hello)).toHaveCount(1);
  const answer = `and back ${Date.now()}`;
  await sendMessage(ben.page, answer);
  await expect(messageInLog(ann.page, answer)).toHaveCount(1);

  await connectedVideoCall(ann, ben);
  await callView(ann.page).getByRole('button', { name: 'Hang up' }).click();
  for (const p of [ann, ben]) {
    await expect(callView(p.page)).toBeHidden();
    await expect(p.page.getByRole('log', { name: 'Messages' }).getByText(/^Video call · \d+:[0-5]\d$/)).toBeVisible();
  }
});

/** Ann calls Ben, Ben accepts, both connections reach "connected" and each decodes the other's video. */
async function connectedVideoCall(ann: Person, ben: Person): Promise<void> {
  await ann.page.getByRole('button', { name: 'Start video call', exact: true }).click();
  const modal = incomingCall(ben.page);
  await expect(modal).toBeVisible();
  await modal.getByRole('button', { name: 'Accept' }).click();
  await expect(modal).toBeHidden();
  for (const p of [ann, ben]) {
    await expect(callView(p.page)).toHaveAttribute('data-state', 'active');
    await expect(callView(p.page)).toHaveAttribute('data-connection-state', 'connected', { timeout: MEDIA_TIMEOUT });
  }
  await Promise.all(
    [ann, ben].map((p) =>
      expect
        .poll(() => p.page.locator('#call-remote').evaluate((v: HTMLVideoElement) => v.videoWidth), {
          message: `${p.account.displayName}'s remote video has a width`,
          timeout: MEDIA_TIMEOUT,
        })
        .toBeGreaterThan(0),
    ),
  );
}

test('the security headers and the __Host- session cookie reach the browser through the proxy', async ({
  page,
  site,
}) => {
  const response = await page.goto('/login');
  const headers = response!.headers();
  const policy = headers['content-security-policy'] ?? '';
  const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
  expect(nonce, `a page policy with a nonce: ${policy}`).toBeTruthy();
  expect(policy).toContain("frame-ancestors 'none'");
  const scripts = await page.locator('script:not([src])').evaluateAll((s) => s.map((e) => (e as HTMLScriptElement).nonce));
  expect(scripts.length).toBeGreaterThan(0);
  for (const n of scripts) expect(n, "the page's scripts carry this response's nonce").toBe(nonce);
  expect(headers['strict-transport-security']).toMatch(/^max-age=\d{7,}/);
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['referrer-policy']).toBe('no-referrer');
  expect(headers['permissions-policy']).toContain('camera=(self), microphone=(self)');

  // What is not a page is covered too.
  const health = await proxyRequest(site.port, { path: '/healthz' });
  expect(health.headers['strict-transport-security']).toMatch(/^max-age=\d{7,}/);
  expect(health.headers['content-security-policy']).toContain("default-src 'none'");
  // Natter answers with the request id nginx gave the request ($request_id: 32 hex digits;
  // one of Natter's own would be a UUID), so one id follows it through both logs.
  expect(health.headers['x-request-id'], "nginx's request id").toMatch(/^[0-9a-f]{32}$/);

  // The session cookie as sent: host-only and Secure, so no other site or plain-http
  // answer can set or read it.
  const account = freshAccount('hdr_', 'Hedda');
  const signedUp = await serverFnFrom(site, '127.0.0.1', 'signup', {
    username: account.username,
    display_name: account.displayName,
    password: account.password,
  });
  expect(signedUp.status, signedUp.body).toBe(200);
  const setCookie = [signedUp.headers['set-cookie'] ?? []].flat();
  expect(setCookie, 'one session cookie').toHaveLength(1);
  expect(setCookie[0]).toMatch(/^__Host-natter_session=[^;]+;/);
  expect(setCookie[0]).toMatch(/; Secure(;|$)/);
  expect(setCookie[0]).toContain('; HttpOnly');
  expect(setCookie[0]).toContain('; Path=/');
  expect(setCookie[0]).not.toMatch(/Domain=/i);

  // The browser keeps it (it refuses a __Host- cookie that breaks those rules) and is
  // known by it.
  await signUpViaApi(page.request, site.origin, freshAccount('hdr_', 'Hugo'));
  const cookies = await page.context().cookies(site.origin);
  expect(cookies.map((c) => c.name)).toEqual(['__Host-natter_session']);
  expect(cookies[0]).toMatchObject({ secure: true, httpOnly: true, path: '/', sameSite: 'Lax' });
  const me = await callServerFn(page.request, site.origin, 'current_user', {});
  expect(await me.json()).toMatchObject({ username: expect.stringMatching(/^hdr_/) });
});

test('failed logins throttle the address they come from, as nginx saw it, and only that address', async ({ site }) => {
  test.slow();
  const guesser = '127.0.0.2';
  const owner = '127.0.0.3';
  const account = freshAccount('own_', 'Owen');
  const signedUp = await serverFnFrom(site, '127.0.0.4', 'signup', {
    username: account.username,
    display_name: account.displayName,
    password: account.password,
  });
  expect(signedUp.status, signedUp.body).toBe(200);

  // 25 wrong guesses from one address, each at another name: the per-address limit (20 a
  // minute) refuses the last 5 without checking them.
  const statuses: number[] = [];
  const refused: Answer[] = [];
  for (let i = 0; i < 25; i++) {
    const answer = await serverFnFrom(site, guesser, 'login', { username: uniqueName('nobody_'), password: 'guess' });
    statuses.push(answer.status);
    if (answer.status === 429) refused.push(answer);
  }
  expect(statuses).toEqual([...Array(20).fill(401), ...Array(5).fill(429)]);
  for (const answer of refused) {
    expect(retrySeconds(answer), `a wait in ${answer.body}`).toBeGreaterThanOrEqual(1);
    expect(retrySeconds(answer)).toBeLessThanOrEqual(60);
  }
  const right = { username: account.username, password: account.password };
  const fromGuesser = await serverFnFrom(site, guesser, 'login', right);
  expect(fromGuesser.status, 'the throttled address is refused even the right password').toBe(429);

  // The address is nginx's $remote_addr, appended after whatever the client claims.
  const claims: Record<string, string>[] = [{ 'X-Forwarded-For': '10.9.9.9' }, { Forwarded: 'for=10.9.9.9' }];
  for (const claim of claims) {
    const spoofed = await serverFnFrom(site, guesser, 'login', right, claim);
    expect(spoofed.status, `${JSON.stringify(claim)} through the proxy: ${spoofed.body}`).toBe(429);
  }
  // Natter believes forwarding headers from nginx alone: the guesser going around it is
  // still itself.
  const direct = await rawHttpLogin(site, guesser, right, { 'X-Forwarded-For': '10.9.9.9' });
  expect(direct.status, `X-Forwarded-For straight to Natter: ${direct.body}`).toBe(429);

  const fromOwner = await serverFnFrom(site, owner, 'login', right);
  expect(fromOwner.status, `the owner, from another address: ${fromOwner.body}`).toBe(200);
  expect(String(fromOwner.headers['set-cookie'])).toMatch(/^__Host-natter_session=/);
});

/** A login sent to Natter itself over plain http, bypassing nginx, from `from`. */
async function rawHttpLogin(
  site: Site,
  from: string,
  form: Record<string, string>,
  headers: Record<string, string>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: site.server.port,
        method: 'POST',
        path: '/api/login',
        localAddress: from,
        agent: false,
        headers: { Origin: site.origin, 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      },
      (response) => {
        let body = '';
        response.on('data', (d: Buffer) => (body += d.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on('error', reject);
    request.end(new URLSearchParams(form).toString());
  });
}

test('through the proxy, a request for another host is refused, and so is another origin', async ({ site }) => {
  const form = { username: uniqueName('nobody_'), password: 'guess' };
  for (const path of ['/', '/login']) {
    const page = await proxyRequest(site.port, { path, headers: { Host: 'attacker.example' } });
    expect(page.status, `GET ${path} for attacker.example`).toBe(421);
    expect(page.body).toContain(`answers at ${site.origin} only`);
  }
  const forHost = await proxyRequest(site.port, {
    method: 'POST',
    path: '/api/login',
    headers: {
      Host: 'attacker.example',
      Origin: 'https://attacker.example',
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form).toString(),
  });
  expect(forHost.status).toBe(421);

  // Only public_url's origin may call a server function: not another site, not the same
  // name over http, not Natter's own upstream address.
  for (const origin of ['https://attacker.example', `http://localhost:${site.port}`, site.server.baseURL]) {
    const answer = await serverFnFrom(site, '127.0.0.5', 'login', form, { Origin: origin });
    expect(answer.status, `login with Origin ${origin}`).toBe(403);
  }
  const ours = await serverFnFrom(site, '127.0.0.5', 'login', form);
  expect(ours.status, 'the same login from the site itself reaches the password check').toBe(401);

  // The WebSocket is guarded the same way, before the session is looked at.
  const upgrade = (origin: string) =>
    proxyRequest(site.port, {
      path: '/ws',
      headers: {
        Origin: origin,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
  expect((await upgrade('https://attacker.example')).status, '/ws from another origin').toBe(403);
  expect((await upgrade(site.origin)).status, '/ws from the site, without a session').toBe(401);
});
