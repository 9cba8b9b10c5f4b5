import {
  DEMO_PASSWORD,
  chatWindow,
  conversations,
  expect,
  gotoHydrated,
  header,
  logInAsDemoUser,
  logOutButton,
  messageInLog,
  messageLog,
  saveScreenshot,
  test,
} from '../fixtures';

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

test("a demo user's first screen shows conversations, a group, a missed call and an unread message", async ({
  page,
}) => {
  await logInAsDemoUser(page, 'Alice');
  const list = conversations(page);
  // A conversation in the list by its title (the link's name also holds its preview).
  const item = (title: string) => list.getByRole('link').filter({ has: page.getByText(title, { exact: true }) });

  // Bob's conversation, the group and Carol's are there, Bob's on top with one unread message.
  await expect(list.getByRole('link').first()).toContainText('Bob');
  await expect(item('Bob')).toContainText('Quick go/no-go at 4?');
  await expect(item('Bob').locator('.badge')).toHaveText('1');
  await expect(item('Launch plans').locator('.avatar.group')).toBeVisible();
  await expect(item('Launch plans').locator('.badge')).toHaveCount(0);
  await expect(item('Carol')).toBeVisible();
  await expect(list.getByText(/No conversations yet/)).toHaveCount(0);
  await expect(page).toHaveTitle('(1) Natter');

  // The bell: Bob's unread message and his missed call; being added to the group hours
  // ago is listed, already read.
  const bell = page.getByRole('button', { name: /^Notifications/ });
  await expect(bell).toHaveAccessibleName('Notifications, 2 unread');
  await bell.click();
  const panel = page.getByRole('dialog', { name: 'Notifications' });
  const missed = panel.locator('.bell-item[data-kind="missed_call"]');
  await expect(missed).toContainText('Missed call from Bob');
  await expect(missed).toHaveClass(/unread/);
  await expect(panel.locator('.bell-item[data-kind="message"]')).toContainText('1 new message in Bob');
  const added = panel.locator('.bell-item[data-kind="added_to_group"]');
  await expect(added).toContainText('Carol added you to Launch plans');
  await expect(added).not.toHaveClass(/unread/);
  await saveScreenshot(page, 'demo-first-screen.png');

  // The missed call leads to the conversation, where the call left its line among the
  // history of the past hours.
  await missed.getByRole('link').click();
  await expect(chatWindow(page, 'Bob')).toBeVisible();
  await expect(messageLog(page).locator('.call-log-text')).toHaveText(['Missed video call']);
  await expect(messageInLog(page, 'Morning! Did you get a chance to look at the launch checklist?')).toBeVisible();
  await expect(messageInLog(page, 'Done, I swapped all of them.')).toBeVisible();
});
