import {
  AUTH_TIMEOUT,
  HTTP_4XX_RESOURCE_ERROR,
  SocketWatch,
  WRONG_CREDENTIALS,
  expect,
  field,
  gotoHydrated,
  header,
  logIn,
  logOutButton,
  saveScreenshot,
  signUp,
  test,
  uniqueName,
} from '../fixtures';
import type { Locator, Page } from '@playwright/test';

const PASSWORD = 'correct horse battery';

function newAccount(prefix: string) {
  const username = uniqueName(prefix);
  return { username, displayName: `Tester ${username}`, password: PASSWORD };
}

function createAccountButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Create account', exact: true });
}

function logInButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Log in', exact: true });
}

/** A field that shows `message` as its error: marked invalid, and described by the message. */
async function expectFieldError(input: Locator, message: string): Promise<void> {
  await expect(input).toHaveAttribute('aria-invalid', 'true', { timeout: AUTH_TIMEOUT });
  await expect(input).toHaveAccessibleDescription(new RegExp(escapeRegExp(message)));
}

async function expectNoFieldError(input: Locator): Promise<void> {
  await expect(input).not.toHaveAttribute('aria-invalid', 'true');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Clicks "Log out" once the page's socket is open. Logging out while its upgrade is still on
 * the way makes the server refuse that upgrade (the session is gone): a 401 that Chromium
 * reports as a console error, which fails the test.
 */
async function logOut(page: Page, sockets: SocketWatch): Promise<void> {
  await sockets.waitForConnected();
  await logOutButton(page).click();
}

/** Fills the login form and waits for the server's answer, so repeated attempts are counted one by one. */
async function attemptLogin(page: Page, username: string, password: string): Promise<void> {
  await field(page, 'Username').fill(username);
  await field(page, 'Password').fill(password);
  const answered = page.waitForResponse(
    (r) => new URL(r.url()).pathname === '/api/login' && r.request().method() === 'POST',
    { timeout: AUTH_TIMEOUT },
  );
  await logInButton(page).click();
  await answered;
}

test('a new account can sign up, log out and log back in', async ({ page }) => {
  const account = newAccount('new_');
  const sockets = new SocketWatch(page);

  await signUp(page, account);
  await expect(header(page)).toContainText(account.displayName);

  await logOut(page, sockets);
  await expect(page).toHaveURL('/login');
  await expect(page.getByRole('heading', { name: 'Log in to Natter' })).toBeVisible();

  // The session is really gone, not just hidden: the shell sends us back to /login.
  await page.goto('/');
  await expect(page).toHaveURL(/\/login(\?.*)?$/);

  await logIn(page, account.username, account.password);
  await expect(header(page)).toContainText(account.displayName);

  // The session survives a full reload (it lives in a cookie, not in page state).
  await page.reload();
  await expect(logOutButton(page)).toBeVisible();
  await expect(header(page)).toContainText(account.displayName);
});

test('a wrong password shows an error that does not say which field was wrong', async ({
  page,
  allowConsoleErrors,
}) => {
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const account = newAccount('wrongpw_');
  const sockets = new SocketWatch(page);
  await signUp(page, account);
  await logOut(page, sockets);
  await expect(page).toHaveURL('/login');

  const alert = page.getByRole('alert');

  // An existing user with the wrong password...
  await gotoHydrated(page, '/login');
  await expect(field(page, 'Password')).toHaveAttribute('type', 'password');
  await attemptLogin(page, account.username, 'not the password');
  await expect(alert).toContainText(WRONG_CREDENTIALS);
  const existingUserMessage = (await alert.textContent())?.trim();
  await expect(page).toHaveURL('/login');
  await expect(logOutButton(page)).toBeHidden();
  // Neither field is singled out.
  await expectNoFieldError(field(page, 'Username'));
  await expectNoFieldError(field(page, 'Password'));

  // ...and a user who does not exist get exactly the same answer (from a fresh
  // page, so the first message cannot be mistaken for the second).
  await gotoHydrated(page, '/login');
  await attemptLogin(page, uniqueName('nobody_'), 'not the password');
  await expect(alert).toContainText(WRONG_CREDENTIALS);
  expect((await alert.textContent())?.trim()).toBe(existingUserMessage);
  await expectNoFieldError(field(page, 'Username'));
  await expectNoFieldError(field(page, 'Password'));
  await expect(logOutButton(page)).toBeHidden();
});

test('a taken username is refused case-insensitively and the form keeps its values', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const original = newAccount('foo_x_');
  await signUp(page, original);

  // Someone else, in their own browser, tries the same name in capitals.
  const other = await newSessionPage();
  const attempt = {
    username: original.username.toUpperCase(),
    displayName: 'Someone Else',
    password: 'another password',
  };
  await gotoHydrated(other, '/signup');
  await field(other, 'Username').fill(attempt.username);
  await field(other, 'Display name').fill(attempt.displayName);
  await field(other, 'Password').fill(attempt.password);
  await createAccountButton(other).click();

  await expectFieldError(field(other, 'Username'), 'That username is taken.');
  await expect(other).toHaveURL('/signup');
  await expect(logOutButton(other)).toBeHidden();
  // What the user typed is still there to correct.
  await expect(field(other, 'Username')).toHaveValue(attempt.username);
  await expect(field(other, 'Display name')).toHaveValue(attempt.displayName);
  await expect(field(other, 'Password')).toHaveValue(attempt.password);

  // Nothing was created: the refused credentials do not log anyone in.
  await gotoHydrated(other, '/login');
  await attemptLogin(other, attempt.username, attempt.password);
  await expect(other.getByRole('alert')).toContainText(WRONG_CREDENTIALS);
  await expect(logOutButton(other)).toBeHidden();
});

test('a short password, empty fields and over-long names each get a message next to the field', async ({
  page,
  allowConsoleErrors,
}) => {
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const username = field(page, 'Username');
  const displayName = field(page, 'Display name');
  const password = field(page, 'Password');
  const submit = createAccountButton(page);

  await gotoHydrated(page, '/signup');
  await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();

  // Empty fields.
  await submit.click();
  await expectFieldError(username, 'Username is required.');
  await expectFieldError(displayName, 'Display name is required.');
  await saveScreenshot(page, 'signup-errors.png');

  // A short password (7 characters); the other fields are fine now and lose their errors.
  const account = newAccount('valid_');
  await username.fill(account.username);
  await displayName.fill(account.displayName);
  await password.fill('short77');
  await submit.click();
  await expectFieldError(password, 'Password must be at least 8 characters.');
  await expectNoFieldError(username);
  await expectNoFieldError(displayName);

  // Over-long names (limits: 32 and 64 characters).
  await username.fill('a'.repeat(33));
  await displayName.fill('D'.repeat(65));
  await password.fill(account.password);
  await submit.click();
  await expectFieldError(username, 'Username must be at most 32 characters.');
  await expectFieldError(displayName, 'Display name must be at most 64 characters.');
  await expectNoFieldError(password);

  // Characters outside letters, digits and underscores.
  await username.fill('no spaces!');
  await displayName.fill(account.displayName);
  await submit.click();
  await expectFieldError(username, 'Username may contain only letters, digits and underscores.');
  await expectNoFieldError(displayName);

  await expect(page).toHaveURL('/signup');
  await expect(logOutButton(page)).toBeHidden();

  // The refusals wrote nothing: the name tried with the short password is still free.
  await username.fill(account.username);
  await submit.click();
  await expect(page).toHaveURL('/', { timeout: AUTH_TIMEOUT });
  await expect(logOutButton(page)).toBeVisible({ timeout: AUTH_TIMEOUT });
});

test('repeated wrong passwords are throttled with a clear message, and the right password works again after the window', async ({
  page,
  allowConsoleErrors,
}) => {
  // Seven Argon2 hashes in a debug build can take a while.
  test.slow();
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const account = newAccount('throttle_');
  const sockets = new SocketWatch(page);
  await signUp(page, account);
  await logOut(page, sockets);
  await expect(page).toHaveURL('/login');
  await gotoHydrated(page, '/login');

  const alert = page.getByRole('alert');
  for (let attempt = 1; attempt <= 5; attempt++) {
    await attemptLogin(page, account.username, `wrong password ${attempt}`);
    await expect(alert, `attempt ${attempt}`).toContainText(WRONG_CREDENTIALS);
  }

  // After five failures within a minute even the right password is refused for now.
  await attemptLogin(page, account.username, account.password);
  await expect(alert).toContainText('Too many failed attempts');
  await expect(page).toHaveURL('/login');
  await expect(logOutButton(page)).toBeHidden();

  // Not tested here: that the right password works again once the minute has
  // passed (that would make the suite a minute slower).
});

test('logging out ends the session on the server, not just in the browser', async ({ page, newSessionPage }) => {
  const account = newAccount('logout_');
  const sockets = new SocketWatch(page);
  await signUp(page, account);
  const session = (await page.context().cookies()).find((c) => c.name === 'natter_session');
  expect(session, 'natter_session cookie after sign-up').toBeDefined();

  await logOut(page, sockets);
  await expect(page).toHaveURL('/login');

  // Replaying the old cookie from another browser must not get in.
  const other = await newSessionPage();
  await other.context().addCookies([session!]);
  await other.goto('/');
  await expect(other).toHaveURL(/\/login(\?.*)?$/);
  await expect(logOutButton(other)).toBeHidden();
});

test('the session cookie is HttpOnly and SameSite=Lax', async ({ page }) => {
  await signUp(page, newAccount('cookie_'));

  const session = (await page.context().cookies()).find((c) => c.name === 'natter_session');
  expect(session, 'natter_session cookie after sign-up').toBeDefined();
  expect(session!.httpOnly).toBe(true);
  expect(session!.sameSite).toBe('Lax');

  // HttpOnly in practice: page scripts cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain('natter_session');
});
