import type { Page } from '@playwright/test';
import {
  SocketWatch,
  conversations,
  expect,
  header,
  logInAsDemoUser,
  logOutButton,
  saveScreenshot,
  settled,
  test,
  waitForHydration,
} from '../fixtures';

const PHONE = { width: 375, height: 667 };
const DESKTOP = { width: 1280, height: 800 };

/** Width of the laid-out document; more than the viewport means sideways scrolling. */
function scrollWidth(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth);
}

test('the app shell loads without console errors or hydration warnings', async ({ page, consoleProblems }) => {
  await page.setViewportSize(DESKTOP);
  await logInAsDemoUser(page, 'Alice');

  // A full server render of the logged-in shell, then hydration on top of it:
  // this is where server/client mismatches show up.
  const sockets = new SocketWatch(page);
  await page.reload();
  await waitForHydration(page);

  await expect(conversations(page)).toBeVisible();
  await expect(page.getByRole('main')).toBeVisible();
  await expect(logOutButton(page)).toBeVisible();
  await expect(header(page)).toContainText('Alice');

  // Late errors would come from what the page does after hydrating: its socket (wait
  // until the server has greeted it) and the effects that ran by then.
  await sockets.waitForConnected();
  await settled(page);
  expect(consoleProblems()).toEqual([]);
  // The fixture checks again after the test, including anything later.

  await page.emulateMedia({ colorScheme: 'light' });
  await saveScreenshot(page, 'shell-light.png');
  await page.emulateMedia({ colorScheme: 'dark' });
  await saveScreenshot(page, 'shell-dark.png');
});

test('the shell stays usable on a phone-sized screen', async ({ page }) => {
  await page.setViewportSize(PHONE);
  await logInAsDemoUser(page, 'Carol');
  const sockets = new SocketWatch(page);
  await page.reload();
  await waitForHydration(page);
  // Logging out while the page's socket is still being opened would make the server refuse
  // that upgrade (the session is gone), which the browser reports as a console error.
  await sockets.waitForConnected();

  await expect(logOutButton(page)).toBeVisible();
  await expect(logOutButton(page)).toBeInViewport();
  expect(await scrollWidth(page), 'document width on a 375 px screen').toBeLessThanOrEqual(PHONE.width);
  await saveScreenshot(page, 'shell-phone.png');

  // Still works, not just visible.
  await logOutButton(page).click();
  await expect(page).toHaveURL('/login');
  expect(await scrollWidth(page), 'login page width on a 375 px screen').toBeLessThanOrEqual(PHONE.width);
});

test('logged-out visitors are sent to the login page', async ({ page }) => {
  await page.setViewportSize(DESKTOP);
  await page.goto('/');
  // A return-to query (/login?next=/) would be fine too.
  await expect(page).toHaveURL(/\/login(\?.*)?$/);
  await expect(page.getByRole('heading', { name: 'Log in to Natter' })).toBeVisible();
  await expect(logOutButton(page)).toBeHidden();
  await waitForHydration(page);
  await saveScreenshot(page, 'login.png');

  // From there they can find their way to sign-up and back.
  await page.getByRole('link', { name: 'Create an account', exact: true }).click();
  await expect(page).toHaveURL('/signup');
  await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();
  await page.getByRole('link', { name: 'Log in', exact: true }).click();
  await expect(page).toHaveURL('/login');
});
