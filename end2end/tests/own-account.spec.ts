/**
 * What a person does to their own account in Settings: a new password (the other
 * sessions end, this one stays), a new display name (the people they talk with see it at
 * once), their list of sessions with a way out of each, and deleting the account (the
 * messages stay as "Deleted user", the name is free again).
 */
import type { Page } from '@playwright/test';
import {
  AUTH_TIMEOUT,
  SocketWatch,
  bothInConversation,
  callServerFn,
  conversationLink,
  expect,
  freshAccount,
  gotoHydrated,
  logIn,
  saveScreenshot,
  logOutButton,
  messageInLog,
  sendMessage,
  signUp,
  signUpViaApi,
  test,
  twoPeople,
} from '../fixtures';

/** Refusals these tests cause on purpose (a wrong password, a session that ended). */
const HTTP_4XX = /Failed to load resource: the server responded with a status of 4\d\d/;

/** The card of Settings with this heading. */
function card(page: Page, heading: string) {
  return page.locator('.card').filter({ has: page.getByRole('heading', { name: heading, exact: true }) });
}

test('a new password ends the other sessions, keeps this one, and only the new one logs in', async ({
  page,
  newSessionPage,
  baseURL,
  allowConsoleErrors,
}) => {
  test.slow();
  allowConsoleErrors(HTTP_4XX);
  const ann = freshAccount('ann_', 'Ann');
  await signUp(page, ann);
  const other = await newSessionPage();
  const otherSockets = new SocketWatch(other);
  await logIn(other, ann.username, ann.password);
  await otherSockets.waitForConnected();

  await gotoHydrated(page, '/settings');
  const password = card(page, 'Password');
  await password.getByLabel('Current password', { exact: true }).fill('not my password');
  await password.getByLabel('New password', { exact: true }).fill('a brand new password');
  await password.getByRole('button', { name: 'Change password', exact: true }).click();
  await expect(password.getByText('That is not your current password.')).toBeVisible({ timeout: AUTH_TIMEOUT });
  await expect(password.getByLabel('New password', { exact: true }), 'a refused change keeps the text').toHaveValue(
    'a brand new password',
  );

  await password.getByLabel('Current password', { exact: true }).fill(ann.password);
  await password.getByRole('button', { name: 'Change password', exact: true }).click();
  await expect(password.getByRole('status')).toHaveText('Password changed. Your other sessions have been logged out.', {
    timeout: AUTH_TIMEOUT,
  });
  // The other browser is logged out at once; this one stays.
  await expect(other).toHaveURL(/\/login$/, { timeout: AUTH_TIMEOUT });
  await gotoHydrated(page, '/');
  await expect(logOutButton(page)).toBeVisible();

  const stranger = await newSessionPage();
  const tryLogin = (pw: string) =>
    callServerFn(stranger.request, baseURL!, 'login', { username: ann.username, password: pw });
  expect((await tryLogin(ann.password)).status(), 'the old password').toBe(401);
  expect((await tryLogin('a brand new password')).status(), 'the new password').toBe(200);
});

test('a new display name reaches the person they talk with at once', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  test.slow();
  allowConsoleErrors(HTTP_4XX);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  await expect(conversationLink(ben.page, ann.account.displayName)).toBeVisible();

  await gotoHydrated(ann.page, '/settings');
  const profile = card(ann.page, 'Profile');
  const name = profile.getByLabel('Display name', { exact: true });
  await expect(name).toHaveValue(ann.account.displayName);
  await name.fill('\u200b');
  await profile.getByRole('button', { name: 'Save name', exact: true }).click();
  await expect(profile.getByText('Display name needs at least one visible character.')).toBeVisible();

  const renamed = `Annika ${Date.now() % 10000}`;
  await name.fill(renamed);
  await profile.getByRole('button', { name: 'Save name', exact: true }).click();
  // Ben's list and open conversation show the new name without a reload.
  await expect(conversationLink(ben.page, renamed)).toBeVisible({ timeout: AUTH_TIMEOUT });
  // Ann's own page shows it too.
  await expect(ann.page.getByRole('banner')).toContainText(renamed, { timeout: AUTH_TIMEOUT });
});

test('the list of sessions names each browser, and one can be logged out, or all the others', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  test.slow();
  allowConsoleErrors(HTTP_4XX);
  const ann = freshAccount('ann_', 'Ann');
  await signUp(page, ann);
  const second = await newSessionPage();
  const secondSockets = new SocketWatch(second);
  await logIn(second, ann.username, ann.password);
  await secondSockets.waitForConnected();
  const third = await newSessionPage({ userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1' });
  const thirdSockets = new SocketWatch(third);
  await logIn(third, ann.username, ann.password);
  await thirdSockets.waitForConnected();

  await gotoHydrated(page, '/settings');
  const sessions = card(page, "Where you're logged in");
  const rows = sessions.locator('li.session');
  await expect(rows).toHaveCount(3);
  await expect(rows.filter({ hasText: 'This browser' })).toHaveCount(1);
  await expect(sessions.locator('li.session[data-current]')).toContainText('This browser');
  const iphone = rows.filter({ hasText: 'Safari on iOS' });
  await expect(iphone).toHaveCount(1);
  await expect(iphone).toContainText('127.0.0.1');

  await iphone.getByRole('button', { name: 'Log out', exact: true }).click();
  await expect(rows).toHaveCount(2);
  // Its open tab is logged out at once.
  await expect(third).toHaveURL(/\/login$/, { timeout: AUTH_TIMEOUT });

  await sessions.getByRole('button', { name: 'Log out everywhere else', exact: true }).click();
  await expect(rows).toHaveCount(1);
  await expect(sessions.getByRole('button', { name: 'Log out everywhere else', exact: true })).toHaveCount(0);
  await expect(second).toHaveURL(/\/login$/, { timeout: AUTH_TIMEOUT });
  await gotoHydrated(page, '/');
  await expect(logOutButton(page)).toBeVisible();
});

test('deleting the account asks for the password, leaves the messages as Deleted user and frees the name', async ({
  page,
  newSessionPage,
  baseURL,
  allowConsoleErrors,
}) => {
  test.slow();
  allowConsoleErrors(HTTP_4XX);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  const text = `before I go ${Date.now()}`;
  await sendMessage(ann.page, text);
  await expect(messageInLog(ben.page, text)).toHaveCount(1);

  await gotoHydrated(ann.page, '/settings');
  const danger = card(ann.page, 'Delete account');
  await danger.getByLabel('Your password', { exact: true }).fill('wrong password');
  await danger.getByRole('button', { name: 'Delete my account', exact: true }).click();
  await expect(danger.getByText('That is not your current password.')).toBeVisible({ timeout: AUTH_TIMEOUT });
  await danger.getByLabel('Your password', { exact: true }).fill(ann.account.password);
  await danger.getByRole('button', { name: 'Delete my account', exact: true }).click();
  await expect(ann.page).toHaveURL(/\/login$/, { timeout: AUTH_TIMEOUT });

  // Ben's list shows the deleted account as such, and the message is still there.
  await expect(conversationLink(ben.page, 'Deleted user')).toBeVisible({ timeout: AUTH_TIMEOUT });
  await expect(messageInLog(ben.page, text)).toHaveCount(1);
  const id = new URL(ben.page.url()).pathname.split('/').pop()!;
  const refused = await callServerFn(ben.page.request, baseURL!, 'send_message', {
    conversation_id: id,
    client_msg_id: `after-${Date.now()}`,
    body: 'are you there?',
  });
  expect(refused.status()).toBe(409);
  expect(await refused.text()).toContain('This account was deleted.');

  // Nobody logs in as Ann any more, and her name is free.
  const stranger = await newSessionPage();
  const login = await callServerFn(stranger.request, baseURL!, 'login', {
    username: ann.account.username,
    password: ann.account.password,
  });
  expect(login.status()).toBe(401);
  await signUpViaApi(stranger.request, baseURL!, { ...ann.account, displayName: 'Someone new' });
});

test('the settings page, as screenshots', async ({ page, newSessionPage }) => {
  test.slow();
  const ann = freshAccount('ann_', 'Ann');
  await signUp(page, ann);
  const phone = await newSessionPage({
    userAgent:
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36',
  });
  const phoneSockets = new SocketWatch(phone);
  await logIn(phone, ann.username, ann.password);
  await phoneSockets.waitForConnected();
  await gotoHydrated(page, '/settings');
  const sessions = card(page, "Where you're logged in");
  await expect(sessions.locator('li.session')).toHaveCount(2);
  await saveScreenshot(page, 'settings.png');
  await page.emulateMedia({ colorScheme: 'dark' });
  await saveScreenshot(page, 'settings-dark.png');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(card(page, 'Delete account')).toBeVisible();
  await saveScreenshot(page, 'settings-phone.png');
});
