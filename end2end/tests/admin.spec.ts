import type { APIRequestContext, APIResponse, Locator, Page } from '@playwright/test';
import {
  AUTH_TIMEOUT,
  HTTP_4XX_RESOURCE_ERROR,
  type NewAccount,
  SocketWatch,
  WRONG_CREDENTIALS,
  bothInConversation,
  callServerFn,
  composer,
  expect,
  expectRefused,
  field,
  freshAccount,
  gotoHydrated,
  logInAsDemoUser,
  logIn,
  logOutButton,
  messageInLog,
  openDirectViaApi,
  saveScreenshot,
  sendMessage,
  signUp,
  signUpViaApi,
  twoPeople,
  waitForHydration,
  withServerEnv,
} from '../fixtures';
import { OpenedSockets, type RawSocket } from '../raw-socket';

// The admin area: who may use it, what blocking, roles and temporary passwords do to the
// people they touch, and settings that change the running server. The demo `admin`
// account is the only admin on this file's server; every test leaves it that way, and
// puts back any setting it changed.
const test = withServerEnv({ NATTER_ADMIN_SPEC: '1' });

const FORBIDDEN = 'You are not allowed to do that.';
const LAST_ADMIN = 'This is the last admin: make someone else an admin first.';
const REGISTRATION_CLOSED = 'This server is not taking new accounts. Ask its admin to open registration.';

/** Every raw socket a test opens, dropped after it. */
const opened = new OpenedSockets();
test.afterEach(() => opened.destroyAll());

type AdminUserRow = { user: { id: string; username: string; role: string }; blocked: boolean };
type SettingView = { key: string; value: string };
type Stats = Record<string, number>;

/** A page of its own, logged in as the demo admin. */
async function adminPage(newSessionPage: () => Promise<Page>): Promise<Page> {
  const admin = await newSessionPage();
  await logInAsDemoUser(admin, 'Admin');
  return admin;
}

async function ok(response: APIResponse, what: string): Promise<unknown> {
  const text = await response.text();
  expect(response.status(), `${what}: ${text}`).toBe(200);
  return JSON.parse(text) as unknown;
}

/** The admin list's entry for `username`, read with an admin's cookies. */
async function adminUser(admin: Page, username: string): Promise<AdminUserRow> {
  const found = (await ok(
    await callServerFn(admin.request, admin.url(), 'admin/users', { query: username, page: 0 }),
    `admin/users ${username}`,
  )) as { users: AdminUserRow[] };
  const row = found.users.find((u) => u.user.username === username);
  expect(row, `admin/users finds ${username}`).toBeTruthy();
  return row!;
}

/** The value in force of one setting, read with an admin's cookies. */
async function settingValue(admin: Page, key: string): Promise<string> {
  const list = (await ok(await callServerFn(admin.request, admin.url(), 'admin/settings', {}), 'admin/settings')) as SettingView[];
  const setting = list.find((s) => s.key === key);
  expect(setting, `admin/settings lists ${key}`).toBeTruthy();
  return setting!.value;
}

/** Puts a setting back through the server function (for `finally`). */
async function restoreSetting(admin: Page, key: string, value: string): Promise<void> {
  await ok(
    await callServerFn(admin.request, admin.url(), 'admin/update_setting', { key, value }),
    `restoring ${key} = ${value}`,
  );
}

/** Opens /admin/users and searches for `username`; returns that person's row. */
async function findUserRow(admin: Page, username: string): Promise<Locator> {
  await gotoHydrated(admin, '/admin/users');
  await admin.getByRole('searchbox', { name: 'Search users' }).fill(username);
  const row = admin.locator(`table.user-table tr[data-username="${username}"]`);
  await expect(row).toBeVisible();
  // The search has narrowed the table to the one match (the rows the buttons act on).
  await expect(admin.locator(`table.user-table tbody tr:not([data-username="${username}"])`)).toHaveCount(0);
  return row;
}

/** The form of one setting on /admin/settings. */
function settingForm(admin: Page, key: string): Locator {
  return admin.locator(`form.setting[data-key="${key}"]`);
}

/** A raw socket of `page`'s session that asked for the admin topic; returns the answer. */
async function subscribeToDashboard(page: Page, baseURL: string, socket?: RawSocket) {
  const s = socket ?? (await opened.open(page.context(), baseURL)).socket;
  const from = s.texts.length;
  s.sendJson({ type: 'subscribe', topic: 'admin:dashboard' });
  const answer = await s.waitForJson(
    (f) => (f.type === 'subscribed' && f.topic === 'admin:dashboard') || f.type === 'error',
    10_000,
    from,
  );
  return { socket: s, answer };
}

/**
 * An init script: every WebSocket to /ws the page opens writes its close code and reason
 * to sessionStorage (which outlives the app's own move to another address).
 */
function recordSocketCloses() {
  const Native = window.WebSocket;
  class Recorded extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      if (new URL(String(url), location.href).pathname !== '/ws') return;
      this.addEventListener('close', (e) => {
        const log = JSON.parse(sessionStorage.getItem('__wsCloses') ?? '[]') as unknown[];
        log.push({ code: e.code, reason: e.reason });
        sessionStorage.setItem('__wsCloses', JSON.stringify(log));
      });
    }
  }
  window.WebSocket = Recorded;
}

function closesOf(page: Page): Promise<{ code: number; reason: string }[]> {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('__wsCloses') ?? '[]') as { code: number; reason: string }[]);
}

function statValue(admin: Page, key: string): Locator {
  return admin.locator(`div.stat[data-stat="${key}"] .stat-value`);
}

async function readStat(admin: Page, key: string): Promise<number> {
  const value = statValue(admin, key);
  await expect(value).toHaveText(/^\d+$/);
  return Number(await value.textContent());
}

let messageCounter = 0;
async function sendViaApi(request: APIRequestContext, origin: string, conversationId: string, body: string) {
  messageCounter += 1;
  return callServerFn(request, origin, 'send_message', {
    conversation_id: conversationId,
    client_msg_id: `admin-spec-${Date.now()}-${messageCounter}`,
    body,
  });
}

// ---------------------------------------------------------------------------

test('non-admins are refused by every admin server function and the admin topic', async ({
  page,
  newSessionPage,
  baseURL,
  playwright,
}) => {
  const zoe = freshAccount('zoe_', 'Zoe');
  await signUp(page, zoe);
  const admin = await adminPage(newSessionPage);
  const zoeId = (await adminUser(admin, zoe.username)).user.id;

  const calls: [string, Record<string, string | number>][] = [
    ['admin/dashboard', {}],
    ['admin/users', { query: '', page: 0 }],
    ['admin/block', { user_id: zoeId, blocked: 'true' }],
    ['admin/role', { user_id: zoeId, admin: 'true' }],
    ['admin/temporary_password', { user_id: zoeId, password: 'a temporary one' }],
    ['admin/settings', {}],
    ['admin/update_setting', { key: 'registration_open', value: 'false' }],
  ];
  const visitor = await playwright.request.newContext({ baseURL });
  try {
    for (const [name, form] of calls) {
      const refused = await expectRefused(await callServerFn(page.request, baseURL!, name, form), 403, `${name} as a user`);
      // The error travels by its name; the page shows it as FORBIDDEN (below).
      expect(JSON.parse(refused), name).toBe('Forbidden');
      const noSession = await expectRefused(await callServerFn(visitor, baseURL!, name, form), 401, `${name} as a visitor`);
      expect(JSON.parse(noSession), name).toBe('Unauthorized');
    }
  } finally {
    await visitor.dispose();
  }
  // None of those attempts did anything: Zoe is still an unblocked user, registration open.
  const zoeNow = await adminUser(admin, zoe.username);
  expect({ role: zoeNow.user.role, blocked: zoeNow.blocked }).toEqual({ role: 'user', blocked: false });
  expect(await settingValue(admin, 'registration_open')).toBe('true');

  // The page offers the admin area to the admin only, and refuses it to anyone else.
  const adminLink = (p: Page) => p.getByRole('banner').getByRole('link', { name: 'Admin', exact: true });
  await expect(adminLink(admin)).toBeVisible();
  await expect(logOutButton(page)).toBeVisible();
  await expect(adminLink(page)).toHaveCount(0);
  await gotoHydrated(page, '/admin');
  await expect(page.getByRole('alert')).toHaveText(FORBIDDEN);
  await expect(page.locator('div.stat')).toHaveCount(0);

  // The dashboard's topic: refused to Zoe's socket, granted to the admin's, which then hears figures.
  const zoeSocket = await subscribeToDashboard(page, baseURL!);
  expect(zoeSocket.answer).toMatchObject({ type: 'error', code: 'forbidden' });
  const adminSocket = await subscribeToDashboard(admin, baseURL!);
  expect(adminSocket.answer).toEqual({ type: 'subscribed', topic: 'admin:dashboard' });
  const pushed = await adminSocket.socket.waitForJson(
    (f) => f.type === 'event' && f.topic === 'admin:dashboard',
  );
  expect(pushed.event).toMatchObject({ kind: 'dashboard', stats: { users: expect.any(Number) } });
  // Everything Zoe's socket heard by now: no figures.
  expect(await zoeSocket.socket.roundTrip()).toEqual([{ type: 'pong' }]);
  expect(zoeSocket.socket.json().filter((f) => f.type === 'event' || f.type === 'subscribed')).toEqual([]);
});

test('blocking by an admin closes the user’s open sockets and refuses their next send and call', async ({
  page,
  newSessionPage,
  baseURL,
  playwright,
  allowConsoleErrors,
}) => {
  test.slow();
  // Ben's failed login and the admin's refused requests show up as 4xx in the console.
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await ben.page.context().addInitScript(recordSocketCloses);
  const dm = await bothInConversation(ann, ben);
  const admin = await adminPage(newSessionPage);

  // What Ben holds before the block: a raw socket, his page's socket, and his cookies.
  const { socket: benRaw } = await opened.open(ben.page.context(), baseURL!);
  const benLive = ben.sockets.sockets[ben.sockets.sockets.length - 1];
  expect(benLive.closed, 'Ben’s page has its socket open').toBe(false);
  const benHello = benLive.received.find((f) => f.type === 'hello');
  expect(benHello, 'Ben’s page said hello').toBeTruthy();
  const benCookies = await ben.page.context().storageState();
  await ben.page.evaluate(() => sessionStorage.removeItem('__wsCloses'));

  const row = await findUserRow(admin, ben.account.username);
  await expect(row.getByText('Online')).toBeVisible();
  await row.getByRole('button', { name: 'Block', exact: true }).click();
  await expect(row.getByText('Blocked', { exact: true })).toBeVisible();
  await expect(row.getByRole('button', { name: 'Unblock', exact: true })).toBeVisible();

  // Ben's sockets close at once, and his page says why.
  expect(await benRaw.waitForClose()).toEqual({ code: 4001, reason: 'account blocked' });
  await expect(ben.page).toHaveURL('/login?ended=blocked');
  await expect(ben.page.getByText('Your account has been blocked by an admin of this server.')).toBeVisible();
  // His page's own socket: closed by the server, with the same code and reason.
  await expect.poll(() => closesOf(ben.page)).toEqual([{ code: 4001, reason: 'account blocked' }]);
  // (The browser reports the close to the test a moment after the page has seen it.)
  await expect.poll(() => benLive.closed, { message: 'the socket Ben’s page had open is closed' }).toBe(true);
  // Ann is untouched.
  await expect(ann.page).toHaveURL(`/c/${dm}`);
  expect(ann.sockets.sockets.filter((s) => !s.closed).length, 'Ann’s open sockets').toBeGreaterThan(0);

  // With the cookies he had, Ben can no longer send or call.
  const oldBen = await playwright.request.newContext({ baseURL, storageState: benCookies });
  try {
    await expectRefused(await sendViaApi(oldBen, baseURL!, dm, 'still here?'), 401, 'send_message after the block');
    await expectRefused(
      await callServerFn(oldBen, baseURL!, 'start_call', {
        conversation_id: dm,
        media: 'audio',
        connection_id: benHello!.connection_id as number,
      }),
      401,
      'start_call after the block',
    );
  } finally {
    await oldBen.dispose();
  }
  await expect(messageInLog(ann.page, 'still here?')).toHaveCount(0);

  // Nor log in again.
  await waitForHydration(ben.page);
  await field(ben.page, 'Username').fill(ben.account.username);
  await field(ben.page, 'Password').fill(ben.account.password);
  await ben.page.getByRole('button', { name: 'Log in', exact: true }).click();
  await expect(ben.page.getByRole('alert').filter({ hasText: 'This account has been blocked.' })).toBeVisible({
    timeout: AUTH_TIMEOUT,
  });
  await expect(logOutButton(ben.page)).toHaveCount(0);

  // Unblocked, he gets back in.
  await row.getByRole('button', { name: 'Unblock', exact: true }).click();
  await expect(row.getByRole('button', { name: 'Block', exact: true })).toBeVisible();
  await expect(row.getByText('Blocked', { exact: true })).toHaveCount(0);
  await logIn(ben.page, ben.account.username, ben.account.password);
  await gotoHydrated(ben.page, `/c/${dm}`);
  await sendMessage(ben.page, 'back again');
  await expect(messageInLog(ann.page, 'back again')).toBeVisible();
});

test('a settings change takes effect on the next send without a restart', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  test.slow();
  // The refused value and the refused send are 4xx answers.
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const dm = await bothInConversation(ann, ben);
  const admin = await adminPage(newSessionPage);
  const original = await settingValue(admin, 'max_message_chars');
  expect(Number(original)).toBeGreaterThan(20);

  try {
    await gotoHydrated(admin, '/admin/settings');
    const form = settingForm(admin, 'max_message_chars');
    const input = form.getByLabel('Longest message (characters)');
    await expect(input).toHaveValue(original);
    await input.fill('10');
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(form.getByRole('status')).toHaveText('Saved.');
    expect(await settingValue(admin, 'max_message_chars')).toBe('10');

    // Ann's open tab hears the new limit and refuses a longer message itself, keeping the text.
    await expect
      .poll(() =>
        ann.sockets
          .allReceived()
          .some((f) => f.type === 'limits' && (f.limits as { max_message_chars: number }).max_message_chars === 10),
      )
      .toBe(true);
    const long = 'eleven char'; // 11 characters
    await composer(ann.page).fill(long);
    await composer(ann.page).press('Enter');
    await expect(ann.page.locator('#composer-error')).toHaveText(
      'A message can have at most 10 characters; this one has 11.',
    );
    await expect(composer(ann.page)).toHaveValue(long);
    await expect(composer(ann.page)).toHaveAttribute('aria-invalid', 'true');

    // The server refuses it too, to anyone who asks it directly.
    const refused = await expectRefused(
      await sendViaApi(ann.page.request, ann.page.url(), dm, 'a much longer message'),
      422,
      'send_message over the new limit',
    );
    expect(refused).toContain('A message can have at most 10 characters; this one has 21.');

    // Ten characters still go through, in the UI.
    await sendMessage(ann.page, 'ten chars!');
    await expect(messageInLog(ben.page, 'ten chars!')).toBeVisible();
    await expect(messageInLog(ben.page, long)).toHaveCount(0);
    await expect(messageInLog(ben.page, 'a much longer message')).toHaveCount(0);

    // A value out of range is refused with the reason, and changes nothing.
    await input.fill('0');
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(form.getByRole('alert')).toHaveText('Expected a number of characters from 1 to 16000; "0" is not.');
    await expect(form.getByRole('status')).toHaveText('');
    await expect(input).toHaveAttribute('aria-invalid', 'true');
    expect(await settingValue(admin, 'max_message_chars')).toBe('10');
    const stillRefused = await sendViaApi(ann.page.request, ann.page.url(), dm, 'eleven char');
    await expectRefused(stillRefused, 422, 'send_message after the refused change');
  } finally {
    await restoreSetting(admin, 'max_message_chars', original);
  }
  // Back to the old limit: the same long message is fine again.
  await expect
    .poll(() =>
      ann.sockets
        .allReceived()
        .some((f) => f.type === 'limits' && (f.limits as { max_message_chars: number }).max_message_chars === Number(original)),
    )
    .toBe(true);
  await sendMessage(ann.page, 'eleven char');
  await expect(messageInLog(ben.page, 'eleven char')).toBeVisible();
});

test('the dashboard’s message count moves when a message is sent', async ({ page, newSessionPage, baseURL }) => {
  const ann = freshAccount('ann_', 'Ann');
  const ben = freshAccount('ben_', 'Ben');
  const benPage = await newSessionPage();
  await signUpViaApi(page.request, baseURL!, ann);
  await signUpViaApi(benPage.request, baseURL!, ben);
  const dm = await openDirectViaApi(page.request, baseURL!, ben);

  const admin = await newSessionPage();
  const adminSockets = new SocketWatch(admin);
  await logInAsDemoUser(admin, 'Admin');
  await gotoHydrated(admin, '/admin');
  await expect(admin.getByRole('heading', { name: 'Admin', exact: true })).toBeVisible();
  // The page listens for figures before counting starts.
  await expect
    .poll(() =>
      adminSockets.allReceived().some((f) => f.type === 'subscribed' && f.topic === 'admin:dashboard'),
    )
    .toBe(true);
  const before = await readStat(admin, 'messages_today');
  // The admin's own tab is open and online (the first figures may predate its socket; the
  // next push counts it).
  await expect.poll(() => readStat(admin, 'connections')).toBeGreaterThanOrEqual(1);
  await expect.poll(() => readStat(admin, 'online_now')).toBeGreaterThanOrEqual(1);
  // The same page, throughout: a reload would drop this mark.
  await admin.evaluate(() => ((window as unknown as { dashboardMark: string }).dashboardMark = 'still here'));

  await ok(await sendViaApi(page.request, baseURL!, dm, 'count me'), 'send_message');

  await expect(statValue(admin, 'messages_today')).toHaveText(String(before + 1));
  // It came over the WebSocket, not from a reload.
  expect(
    adminSockets
      .allReceived()
      .some(
        (f) =>
          f.type === 'event' &&
          (f.event as { kind: string; stats?: Stats }).kind === 'dashboard' &&
          (f.event as { stats: Stats }).stats.messages_today === before + 1,
      ),
  ).toBe(true);
  expect(await admin.evaluate(() => (window as unknown as { dashboardMark?: string }).dashboardMark)).toBe('still here');
});

test('the last admin cannot be demoted and an admin cannot block themselves', async ({
  page,
  newSessionPage,
  baseURL,
  allowConsoleErrors,
}) => {
  test.slow();
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const zed = freshAccount('zed_', 'Zed');
  await signUp(page, zed);
  const admin = await adminPage(newSessionPage);
  let zedIsAdmin = false;
  try {
    const me = await findUserRow(admin, 'admin');
    await expect(me.getByText('(you)')).toBeVisible();
    await expect(me.locator('.role-badge')).toHaveText('Admin');

    await me.getByRole('button', { name: 'Remove admin', exact: true }).click();
    await expect(admin.getByRole('alert')).toHaveText(LAST_ADMIN);
    await me.getByRole('button', { name: 'Block', exact: true }).click();
    await expect(admin.getByRole('alert')).toHaveText('You cannot block your own account.');
    // Neither happened.
    expect(await adminUser(admin, 'admin')).toMatchObject({ user: { role: 'admin' }, blocked: false });
    await expect(me.getByRole('button', { name: 'Remove admin', exact: true })).toBeVisible();

    // Zed becomes an admin: his next request and his next page are an admin's.
    const zedRow = await findUserRow(admin, zed.username);
    await zedRow.getByRole('button', { name: 'Make admin', exact: true }).click();
    zedIsAdmin = true;
    await expect(zedRow.getByRole('button', { name: 'Remove admin', exact: true })).toBeVisible();
    await expect(admin.getByRole('alert')).toHaveCount(0);
    await ok(await callServerFn(page.request, baseURL!, 'admin/dashboard', {}), 'admin/dashboard as the new admin');
    await gotoHydrated(page, '/');
    await expect(page.getByRole('banner').getByRole('link', { name: 'Admin', exact: true })).toBeVisible();
    const zedSocket = await subscribeToDashboard(page, baseURL!);
    expect(zedSocket.answer).toEqual({ type: 'subscribed', topic: 'admin:dashboard' });

    // With a second admin, blocking oneself is still refused.
    const meAgain = await findUserRow(admin, 'admin');
    await meAgain.getByRole('button', { name: 'Block', exact: true }).click();
    await expect(admin.getByRole('alert')).toHaveText('You cannot block your own account.');

    // Zed loses the role again: refused at once, by the server functions and the topic.
    const zedRowAgain = await findUserRow(admin, zed.username);
    await zedRowAgain.getByRole('button', { name: 'Remove admin', exact: true }).click();
    await expect(zedRowAgain.getByRole('button', { name: 'Make admin', exact: true })).toBeVisible();
    zedIsAdmin = false;
    await expectRefused(await callServerFn(page.request, baseURL!, 'admin/dashboard', {}), 403, 'admin/dashboard after demotion');
    const again = await subscribeToDashboard(page, baseURL!, zedSocket.socket);
    expect(again.answer).toMatchObject({ type: 'error', code: 'forbidden' });

    // And `admin` is the last admin again.
    const meLast = await findUserRow(admin, 'admin');
    await meLast.getByRole('button', { name: 'Remove admin', exact: true }).click();
    await expect(admin.getByRole('alert')).toHaveText(LAST_ADMIN);
  } finally {
    if (zedIsAdmin) {
      const zedId = (await adminUser(admin, zed.username)).user.id;
      await callServerFn(admin.request, baseURL!, 'admin/role', { user_id: zedId, admin: 'false' });
    }
  }
  expect(await adminUser(admin, 'admin')).toMatchObject({ user: { role: 'admin' }, blocked: false });
});

test('a temporary password must be replaced at the next login', async ({
  page,
  newSessionPage,
  baseURL,
  playwright,
  allowConsoleErrors,
}) => {
  test.slow();
  // The login with the temporary password is answered 403 (change required), the old one 401.
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const tia: NewAccount = freshAccount('tia_', 'Tia');
  const tiaSockets = new SocketWatch(page);
  await signUp(page, tia);
  await expect.poll(() => tiaSockets.allReceived().some((f) => f.type === 'hello')).toBe(true);
  const admin = await adminPage(newSessionPage);
  const temporary = `temp-${Date.now()}`;
  const chosen = 'my own new password';

  const row = await findUserRow(admin, tia.username);
  await row.getByRole('button', { name: 'Temporary password', exact: true }).click();
  await admin.getByLabel(`Temporary password for ${tia.username}`, { exact: true }).fill(temporary);
  await admin.getByRole('button', { name: 'Set', exact: true }).click();
  await expect(admin.locator('.admin-notice')).toHaveText(
    `Temporary password set. ${tia.username} must choose a new one at next login.`,
  );
  await expect(row.getByText('Must change password')).toBeVisible();

  // Tia's open tab is logged out at once.
  await expect(page).toHaveURL('/login');
  await expect
    .poll(() => tiaSockets.sockets.filter((s) => !s.closed).length, { message: 'Tia’s open sockets' })
    .toBe(0);

  // Logging in with the temporary password asks for a new one first.
  await gotoHydrated(page, '/login');
  await field(page, 'Username').fill(tia.username);
  await field(page, 'Password').fill(temporary);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  const newPassword = page.getByLabel('New password', { exact: true });
  await expect(newPassword).toBeVisible({ timeout: AUTH_TIMEOUT });
  await expect(logOutButton(page)).toHaveCount(0);
  await newPassword.fill(chosen);
  await page.getByRole('button', { name: 'Set password and log in', exact: true }).click();
  await expect(logOutButton(page)).toBeVisible({ timeout: AUTH_TIMEOUT });
  await expect(page).toHaveURL('/');
  await expect(page.getByRole('banner')).toContainText(tia.displayName);

  // The temporary password is spent, the first one too; only the chosen one opens the account.
  const other = await playwright.request.newContext({ baseURL });
  try {
    for (const old of [temporary, tia.password]) {
      const refused = await expectRefused(
        await callServerFn(other, baseURL!, 'login', { username: tia.username, password: old }),
        401,
        'login with an old password',
      );
      expect(JSON.parse(refused)).toBe('WrongCredentials');
    }
    await ok(await callServerFn(other, baseURL!, 'login', { username: tia.username, password: chosen }), 'login with the chosen password');
  } finally {
    await other.dispose();
  }
  const later = await newSessionPage();
  await gotoHydrated(later, '/login');
  await field(later, 'Username').fill(tia.username);
  await field(later, 'Password').fill(temporary);
  await later.getByRole('button', { name: 'Log in', exact: true }).click();
  await expect(later.getByRole('alert')).toHaveText(WRONG_CREDENTIALS, { timeout: AUTH_TIMEOUT });
  await expect(later.getByLabel('New password', { exact: true })).toHaveCount(0);
  await logIn(later, tia.username, chosen);
  expect((await adminUser(admin, tia.username)) as unknown).toMatchObject({ must_change_password: false });
});

test('registration can be closed and reopened without a restart', async ({
  page,
  newSessionPage,
  baseURL,
  allowConsoleErrors,
}) => {
  test.slow();
  // The refused sign-up is a 409.
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const admin = await adminPage(newSessionPage);
  const original = await settingValue(admin, 'registration_open');
  expect(original).toBe('true');
  const newcomer = freshAccount('new_', 'Newcomer');
  try {
    await gotoHydrated(admin, '/admin/settings');
    const form = settingForm(admin, 'registration_open');
    const open = form.getByRole('checkbox', { name: 'Registration open' });
    await expect(open).toBeChecked();
    await open.uncheck();
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(form.getByRole('status')).toHaveText('Saved.');
    await expect(open).not.toBeChecked();
    expect(await settingValue(admin, 'registration_open')).toBe('false');

    // A visitor's sign-up is refused with the reason; nothing is created.
    await gotoHydrated(page, '/signup');
    await expect(page.getByRole('note')).toHaveText('This server is not taking new accounts right now.');
    await field(page, 'Username').fill(newcomer.username);
    await field(page, 'Display name').fill(newcomer.displayName);
    await field(page, 'Password').fill(newcomer.password);
    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    await expect(page.getByRole('alert')).toHaveText(REGISTRATION_CLOSED);
    await expect(page).toHaveURL('/signup');
    const listed = (await ok(
      await callServerFn(admin.request, baseURL!, 'admin/users', { query: newcomer.username, page: 0 }),
      'admin/users',
    )) as { total: number };
    expect(listed.total, 'accounts named like the newcomer').toBe(0);
    // Existing accounts still log in.
    const carol = await newSessionPage();
    await logInAsDemoUser(carol, 'Carol');

    // Reopened, the same form goes through.
    await open.check();
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(form.getByRole('status')).toHaveText('Saved.');
    expect(await settingValue(admin, 'registration_open')).toBe('true');
    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    await expect(logOutButton(page)).toBeVisible({ timeout: AUTH_TIMEOUT });
    await expect(page).toHaveURL('/');
  } finally {
    await restoreSetting(admin, 'registration_open', original);
  }
});

test('the admin pages, as screenshots', async ({ page, newSessionPage, baseURL }) => {
  test.slow();
  const ann = freshAccount('ann_', 'Ann');
  const ben = freshAccount('ben_', 'Ben');
  const benPage = await newSessionPage();
  await signUpViaApi(page.request, baseURL!, ann);
  await signUpViaApi(benPage.request, baseURL!, ben);
  const dm = await openDirectViaApi(page.request, baseURL!, ben);

  const admin = await adminPage(newSessionPage);
  await gotoHydrated(admin, '/admin');
  const before = await readStat(admin, 'messages_today');
  const texts = ['morning', 'hi there', 'lunch?', 'sure', 'see you at one'];
  for (const [i, text] of texts.entries()) {
    await ok(await sendViaApi(i % 2 ? benPage.request : page.request, baseURL!, dm, text), `send ${text}`);
  }
  await expect(statValue(admin, 'messages_today')).toHaveText(String(before + texts.length));
  // The chart is drawn from the figures and its newest bar carries the hour's count.
  const chart = admin.locator('svg.chart');
  await expect(chart).toHaveAttribute('aria-label', /Messages per hour, last 24 hours: \d+ messages? in total/);
  await expect(chart.locator('g.bar')).toHaveCount(24);
  await expect(chart.locator('g.bar').last().locator('.bar-count')).toHaveText(/^\d+$/);
  await saveScreenshot(admin, 'admin-dashboard.png');

  await admin.emulateMedia({ colorScheme: 'dark' });
  await saveScreenshot(admin, 'admin-dashboard-dark.png');
  await admin.emulateMedia({ colorScheme: 'light' });

  await admin.setViewportSize({ width: 390, height: 844 });
  await expect(statValue(admin, 'users')).toBeVisible();
  await saveScreenshot(admin, 'admin-dashboard-phone.png');
  await admin.setViewportSize({ width: 1280, height: 800 });

  await gotoHydrated(admin, '/admin/users');
  await expect(admin.locator(`tr[data-username="${ann.username}"]`)).toBeVisible();
  await expect(admin.locator('tr[data-username="admin"]')).toBeVisible();
  await saveScreenshot(admin, 'admin-users.png');

  await gotoHydrated(admin, '/admin/settings');
  await expect(settingForm(admin, 'max_message_chars').getByLabel('Longest message (characters)')).toHaveValue(/^\d+$/);
  await saveScreenshot(admin, 'admin-settings.png');
});
