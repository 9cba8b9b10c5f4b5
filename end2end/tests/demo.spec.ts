import { DEMO_PASSWORD, expect, gotoHydrated, header, logInAsDemoUser, logOutButton, test } from '../fixtures';

// The harness starts every server with NATTER_DEMO_MODE=true.

test('demo users log in with one click', async ({ page }) => {
  await logInAsDemoUser(page, 'Bob');
  await expect(logOutButton(page)).toBeVisible();
  await expect(header(page)).toContainText('Bob');
});

test('the demo password is shown on the login page', async ({ page }) => {
  await gotoHydrated(page, '/login');
  await expect(page.getByText(DEMO_PASSWORD)).toBeVisible();
  for (const name of ['Alice', 'Bob', 'Carol', 'Admin']) {
    await expect(page.getByRole('button', { name: `Log in as ${name}`, exact: true })).toBeVisible();
  }
});
