/**
 * A server as an operator starts it: no demo accounts unless asked for, the first admin
 * made with `natter admin create`, the demo password of a former demo refused, and a loud
 * warning when a demo listens beyond the machine.
 */
import {
  AUTH_TIMEOUT,
  DEMO_PASSWORD,
  callServerFn,
  expect,
  field,
  gotoHydrated,
  logOutButton,
  test,
} from '../fixtures';
import type { Page } from '@playwright/test';
import { ControlledServer } from '../server-control';

/** Chromium logs a console error for the refused logins these tests make on purpose. */
const HTTP_4XX = /Failed to load resource: the server responded with a status of 4\d\d/;

test('a fresh server has no accounts; the operator creates the first admin from the command line, who chooses a password and reaches the admin area', async ({
  newSessionPage,
  allowConsoleErrors,
}) => {
  test.slow();
  allowConsoleErrors(HTTP_4XX);
  const s = new ControlledServer({ NATTER_DEMO_MODE: 'false' });
  let page: Page | undefined;
  try {
    await s.start();
    page = await newSessionPage({ baseURL: s.baseURL });
    const origin = s.baseURL;
    const nobody = await callServerFn(page.request, origin, 'login', { username: 'admin', password: DEMO_PASSWORD });
    expect(nobody.status(), 'no demo admin on a fresh server').toBe(401);

    const created = await s.cli(['admin', 'create', 'root', '--display-name', 'Site Admin']);
    expect(created.status, created.stderr).toBe(0);
    const password = created.stdout.trim();
    expect(password, 'one line: the password').toMatch(/^[A-Za-z0-9]{20}$/);
    expect(created.stderr).toContain('created the admin root');

    const again = await s.cli(['admin', 'create', 'ROOT']);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('the username ROOT is taken');
    expect(again.stdout).toBe('');

    await gotoHydrated(page, `${origin}/login`);
    await field(page, 'Username').fill('root');
    await field(page, 'Password').fill(password);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    const newPassword = page.getByLabel('New password', { exact: true });
    await expect(newPassword, 'the printed password is temporary').toBeVisible({ timeout: AUTH_TIMEOUT });
    await newPassword.fill('the admin’s own password');
    await page.getByRole('button', { name: 'Set password and log in', exact: true }).click();
    await expect(logOutButton(page)).toBeVisible({ timeout: AUTH_TIMEOUT });
    await gotoHydrated(page, `${origin}/admin`);
    await expect(page.getByRole('heading', { name: 'Admin' })).toBeVisible();
    await expect(page.locator('[data-stat="users"] .stat-value')).toHaveText('1');
    await expect(page.locator('.banner.warning'), 'nothing to warn about on loopback').toHaveCount(0);
  } finally {
    // Closed first: an open tab would try to reach the stopped server.
    await page?.close();
    await s.dispose();
  }
});

test('once demo mode is off, the demo password no longer opens a former demo’s accounts, until the operator resets them', async ({
  newSessionPage,
  allowConsoleErrors,
}) => {
  test.slow();
  allowConsoleErrors(HTTP_4XX);
  const s = new ControlledServer({ NATTER_DEMO_MODE: 'true' });
  let page: Page | undefined;
  try {
    await s.start();
    page = await newSessionPage({ baseURL: s.baseURL });
    const origin = s.baseURL;
    const asDemo = () => callServerFn(page!.request, origin, 'login', { username: 'admin', password: DEMO_PASSWORD });
    expect((await asDemo()).status(), 'a demo logs in with the demo password').toBe(200);
    const me = await callServerFn(page.request, origin, 'current_user', {});
    expect(await me.json()).toMatchObject({ username: 'admin' });

    await s.kill('SIGTERM');
    s.setEnv({ NATTER_DEMO_MODE: 'false' });
    await s.start();
    expect(s.log()).toContain('the account admin still has the public demo password');

    // The session made while it was a demo has ended; a new login is refused, saying why.
    const after = await callServerFn(page.request, origin, 'current_user', {});
    expect(await after.json(), 'the demo-time session ended').toBeNull();
    const refused = await asDemo();
    expect(refused.status()).toBe(409);
    expect(await refused.text()).toContain('natter admin reset-password admin');
    await gotoHydrated(page, `${origin}/login`);
    await expect(page.getByRole('button', { name: /^Log in as / })).toHaveCount(0);
    await field(page, 'Username').fill('admin');
    await field(page, 'Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await expect(page.getByRole('alert')).toContainText('still has the public demo password', { timeout: AUTH_TIMEOUT });

    const reset = await s.cli(['admin', 'reset-password', 'admin']);
    expect(reset.status, reset.stderr).toBe(0);
    const temporary = reset.stdout.trim();
    expect(temporary).toMatch(/^[A-Za-z0-9]{20}$/);
    const changed = await callServerFn(page.request, origin, 'change_temporary_password', {
      username: 'admin',
      password: temporary,
      new_password: DEMO_PASSWORD,
    });
    expect(changed.status(), 'the demo password cannot be chosen again').toBe(422);
    expect(await changed.text()).toContain('public demo password');
    const chosen = await callServerFn(page.request, origin, 'change_temporary_password', {
      username: 'admin',
      password: temporary,
      new_password: 'a password of my own',
    });
    expect(chosen.status(), await chosen.text()).toBe(200);
  } finally {
    // Closed first: an open tab would try to reach the stopped server.
    await page?.close();
    await s.dispose();
  }
});

test('a demo that listens beyond the machine says so at start and on every admin page', async ({ newSessionPage }) => {
  test.slow();
  const s = new ControlledServer({ NATTER_DEMO_MODE: 'true' }, '0.0.0.0');
  let page: Page | undefined;
  try {
    await s.start();
    expect(s.log()).toContain('WARNING: Demo mode is on and Natter listens on 0.0.0.0:');
    page = await newSessionPage({ baseURL: s.baseURL });
    const origin = s.baseURL;
    const login = await callServerFn(page.request, origin, 'login', { username: 'admin', password: DEMO_PASSWORD });
    expect(login.status()).toBe(200);
    for (const path of ['/admin', '/admin/users', '/admin/settings']) {
      await gotoHydrated(page, `${origin}${path}`);
      await expect(page.locator('.banner.warning')).toContainText('anyone who reaches it can log in as admin');
    }
  } finally {
    // Closed first: an open tab would try to reach the stopped server.
    await page?.close();
    await s.dispose();
  }
});
