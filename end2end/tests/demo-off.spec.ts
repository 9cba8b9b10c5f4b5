import { DEMO_PASSWORD, expect, gotoHydrated, test } from '../fixtures';

// A worker-scoped option: this file gets its own server with demo mode off.
test.use({ serverEnv: { NATTER_DEMO_MODE: 'false' } });

test('without demo mode the login page offers no demo accounts', async ({ page }) => {
  await gotoHydrated(page, '/login');
  await expect(page.getByRole('heading', { name: 'Log in to Natter' })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Log in as / })).toHaveCount(0);
  await expect(page.getByText(DEMO_PASSWORD)).toHaveCount(0);
});
