/**
 * What every response tells the browser, and which hosts the server answers: the
 * Content-Security-Policy (scripts only from the site and with the page's nonce), no
 * framing, no sniffing, camera and microphone for the site only, and a refusal for a
 * request addressed to another host (DNS rebinding).
 */
import http from 'node:http';
import { bothInConversation, expect, messageInLog, sendMessage, test, twoPeople } from '../fixtures';

/** Sends a raw HTTP request with a `Host` header of our choosing (a browser cannot). */
function rawRequest(
  baseURL: string,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const url = new URL(baseURL);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, headers },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('a page carries a nonce-based policy that its scripts follow, and the app runs under it without a violation', async ({
  page,
  newSessionPage,
}) => {
  const violations: string[] = [];
  await page.exposeFunction('reportViolation', (v: string) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { reportViolation: (v: string) => void }).reportViolation(
        `${e.violatedDirective} ${e.blockedURI}`,
      ),
    );
  });
  const response = await page.goto('/login');
  const headers = response!.headers();
  const policy = headers['content-security-policy'];
  const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
  expect(nonce, policy).toBeTruthy();
  expect(policy).not.toContain('unsafe-inline');
  expect(policy).toContain("frame-ancestors 'none'");
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['referrer-policy']).toBe('no-referrer');
  expect(headers['permissions-policy']).toContain('camera=(self), microphone=(self)');
  expect(headers['strict-transport-security'], 'no HSTS over plain http').toBeUndefined();
  // Every inline script Leptos wrote carries this response's nonce.
  const scripts = await page.locator('script:not([src])').evaluateAll((s) =>
    s.map((e) => (e as HTMLScriptElement).nonce),
  );
  expect(scripts.length).toBeGreaterThan(0);
  for (const n of scripts) expect(n).toBe(nonce);
  // A second load gets a new nonce.
  const again = await page.request.get('/login');
  expect(/'nonce-([^']+)'/.exec(again.headers()['content-security-policy'])?.[1]).not.toBe(nonce);

  // The app hydrates and talks over its WebSocket under the policy.
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  const text = `under the policy ${Date.now()}`;
  await sendMessage(ann.page, text);
  await expect(messageInLog(ben.page, text)).toHaveCount(1);
  expect(violations, 'CSP violations').toEqual([]);
});

test('what is not a page allows no script and cannot be framed', async ({ request }) => {
  for (const path of ['/healthz', '/readyz', '/api/registration_open', '/pkg/natter.css']) {
    const response = path.startsWith('/api/') ? await request.post(path, { form: {} }) : await request.get(path);
    const headers = response.headers();
    expect(headers['content-security-policy'], path).toContain("default-src 'none'");
    expect(headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
    expect(headers['x-content-type-options'], path).toBe('nosniff');
  }
});

test('a request addressed to another host is refused before it reaches the app (DNS rebinding)', async ({ baseURL }) => {
  const port = new URL(baseURL!).port;
  const foreign = `attacker.example:${port}`;
  const refused = await rawRequest(baseURL!, 'POST', '/api/demo_accounts', {
    Host: foreign,
    Origin: `http://${foreign}`,
    'Content-Type': 'application/x-www-form-urlencoded',
  });
  expect(refused.status).toBe(421);
  expect(refused.body).toContain('public_url');
  expect(refused.body).not.toContain('natter-demo');
  const page = await rawRequest(baseURL!, 'GET', '/', { Host: foreign });
  expect(page.status).toBe(421);
  // The same request for the server's own address is answered.
  const own = await rawRequest(baseURL!, 'POST', '/api/demo_accounts', {
    Host: `127.0.0.1:${port}`,
    Origin: `http://127.0.0.1:${port}`,
    'Content-Type': 'application/x-www-form-urlencoded',
  });
  expect(own.status).toBe(200);
  const local = await rawRequest(baseURL!, 'GET', '/healthz', { Host: `localhost:${port}` });
  expect(local.status).toBe(200);
});
