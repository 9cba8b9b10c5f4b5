import type { Locator, Page } from '@playwright/test';
import {
  bothInConversation,
  twoPeople,
  type NewAccount,
  SocketWatch,
  chatWindow,
  conversationLink,
  expect,
  gotoHydrated,
  messageInLog,
  openDirectViaApi,
  sendMessage,
  settled,
  test,
  waitForHydration,
} from '../fixtures';

// Presence ("Online", "Away", "Last seen …") and keeping several tabs of one user in step.
// Every test signs up fresh accounts: tests in one worker share a server and database.

/** The server waits this long after a user's last tab closes before showing them offline. */
const OFFLINE_GRACE_MS = 3000;




/**
 * The subtitle under the title of `viewer`'s open direct conversation with `other`:
 * "@<username> · <presence>", whatever the presence is.
 */
function subtitle(viewer: Page, other: NewAccount): Locator {
  return chatWindow(viewer, other.displayName).getByText(new RegExp(`^@${other.username} · `));
}

/** The exact subtitle text for `other` in a given presence. */
function presenceLine(other: NewAccount, presence: string): string {
  return `@${other.username} · ${presence}`;
}

/** The presence dot in a conversation link (an image named "Online" or "Away"). */
function presenceDot(link: Locator, name?: 'Online' | 'Away'): Locator {
  return name ? link.getByRole('img', { name, exact: true }) : link.getByRole('img');
}



/**
 * Records console errors and page errors of a page the `page`/`newSessionPage` fixtures
 * do not watch (extra tabs opened with `context.newPage()`).
 */
function recordProblems(page: Page, into: string[]): void {
  page.on('console', (msg) => {
    if (msg.type() === 'error') into.push(`[console.error] ${msg.text()}`);
    else if (msg.type() === 'warning' && /hydrat/i.test(msg.text())) into.push(`[console.warning] ${msg.text()}`);
  });
  page.on('pageerror', (error) => into.push(`[pageerror] ${error.message}`));
}

/** Sets a marker in the page's JS realm; it survives anything but a page load. */
async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as Record<string, unknown>).__natterNoReload = true;
  });
}

async function wasNotReloaded(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as Record<string, unknown>).__natterNoReload === true);
}

test('the other person’s presence flips from online to offline when they close the page', async ({
  page,
  newSessionPage,
}) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  const line = subtitle(ann.page, ben.account);
  await expect(line).toHaveText(presenceLine(ben.account, 'Online'));
  // And Ben sees Ann the same way.
  await expect(subtitle(ben.page, ann.account)).toHaveText(presenceLine(ann.account, 'Online'));

  const closedAt = Date.now();
  await ben.page.close();

  // Not at once: the server waits out a grace in case the page is only reloading. Sampled
  // every 100 ms; each sample is one read (an assertion with a 100 ms timeout could time
  // out before its first look on a busy machine).
  while (Date.now() - closedAt < OFFLINE_GRACE_MS - 1000) {
    const text = await line.textContent();
    expect(text, `Ann's header ${Date.now() - closedAt} ms after Ben closed his page`).not.toMatch(/Last seen/);
    await ann.page.waitForTimeout(100);
  }
  // Then, without Ann reloading, Ben shows as gone.
  await expect(line).toHaveText(presenceLine(ben.account, 'Last seen just now'), { timeout: 8000 });
  const shownAfter = Date.now() - closedAt;
  expect(shownAfter, 'offline shown after the grace, not long after').toBeLessThan(8000);
});

test('a reload does not flash offline', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  const line = subtitle(ann.page, ben.account);
  await expect(line).toHaveText(presenceLine(ben.account, 'Online'));

  const seen = new Set<string>();
  const reloaded = (async () => {
    await ben.page.reload();
    await waitForHydration(ben.page);
    await ben.sockets.waitForSubscribed(id);
  })();
  // Watch Ann's header every 100 ms over the reload and well past the grace.
  const start = Date.now();
  while (Date.now() - start < OFFLINE_GRACE_MS + 2000) {
    const text = (await line.textContent({ timeout: 1000 })) ?? '(no subtitle)';
    seen.add(text);
    expect(text, `Ann's header ${Date.now() - start} ms into Ben's reload`).not.toMatch(/Last seen|Offline/);
    await ann.page.waitForTimeout(100);
  }
  await reloaded;
  await expect(chatWindow(ben.page, ann.account.displayName)).toBeVisible();
  await expect(line).toHaveText(presenceLine(ben.account, 'Online'));
  await expect(presenceDot(conversationLink(ann.page, ben.account.displayName), 'Online')).toBeVisible();
  test.info().annotations.push({ type: 'subtitles seen during the reload', description: [...seen].join(' | ') });
});

test('the list shows a presence dot for people who are online', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await openDirectViaApi(ann.page.request, ann.page.url(), ben.account);
  await ben.sockets.waitForSubscribed(id);
  // Ann loads the start page while Ben is connected: the list comes with his presence.
  await gotoHydrated(ann.page, '/');
  const link = conversationLink(ann.page, ben.account.displayName);
  await expect(link).toBeVisible();
  await expect(presenceDot(link, 'Online')).toBeVisible();
  await expect(presenceDot(link)).toHaveCount(1);
  await ann.sockets.waitForSubscribed(id);
  // Ben's own list shows Ann's dot too.
  await expect(presenceDot(conversationLink(ben.page, ann.account.displayName), 'Online')).toBeVisible();

  const closedAt = Date.now();
  await ben.page.close();
  // The dot goes, after the grace, and the conversation stays listed.
  await expect(presenceDot(link)).toHaveCount(0, { timeout: 8000 });
  expect(Date.now() - closedAt, 'the dot stayed through the grace').toBeGreaterThanOrEqual(OFFLINE_GRACE_MS - 1000);
  await expect(link).toBeVisible();

  // A fresh load agrees: offline people have no dot.
  await gotoHydrated(ann.page, '/');
  await expect(link).toBeVisible();
  await expect(presenceDot(link)).toHaveCount(0);
});

test('two tabs of one user stay in sync', async ({ page, newSessionPage }) => {
  // Four tabs in two browsers, each running the app.
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const problems: string[] = [];
  const id = await openDirectViaApi(ann.page.request, ann.page.url(), ben.account);
  await gotoHydrated(ann.page, `/c/${id}`);
  await ann.sockets.waitForSubscribed(id);

  // Ben's first tab is the one he signed up in; the second is in the same browser context
  // (same cookies: the same session). Both are on the start page.
  const tab1 = ben.page;
  const tab2 = await tab1.context().newPage();
  recordProblems(tab2, problems);
  const tab2Sockets = new SocketWatch(tab2);
  await gotoHydrated(tab1, '/');
  await gotoHydrated(tab2, '/');
  await Promise.all([ben.sockets.waitForSubscribed(id), tab2Sockets.waitForSubscribed(id)]);
  const link1 = conversationLink(tab1, ann.account.displayName);
  const link2 = conversationLink(tab2, ann.account.displayName);
  await expect(link1).toBeVisible();
  await expect(link2).toBeVisible();
  await markPage(tab2);

  await sendMessage(ann.page, 'Are you there?');
  await sendMessage(ann.page, 'Hello?');
  for (const link of [link1, link2]) {
    await expect(link.getByLabel('2 unread', { exact: true })).toBeVisible();
    await expect(link).toContainText('Hello?');
  }
  await expect(tab1).toHaveTitle('(2) Natter');
  await expect(tab2).toHaveTitle('(2) Natter');

  // Ben reads them in tab 1; tab 2, still on the start page, hears and clears its badge.
  // (A tab reads only while it is seen: tab 1 is the one in front, as it would be for him.)
  await tab1.bringToFront();
  await link1.click();
  await expect(tab1).toHaveURL(`/c/${id}`);
  await expect(messageInLog(tab1, 'Hello?')).toBeVisible();
  await expect(link1.getByLabel(/^\d+ unread$/)).toHaveCount(0);
  await expect(link2.getByLabel(/^\d+ unread$/)).toHaveCount(0);
  await expect(tab2).toHaveTitle('Natter');
  await expect(tab2).toHaveURL('/');
  expect(await wasNotReloaded(tab2), 'tab 2 was not reloaded').toBe(true);

  // A third tab has the conversation open; what Ben sends from tab 1 shows up in it live,
  // and in tab 2's list.
  const tab3 = await tab1.context().newPage();
  recordProblems(tab3, problems);
  const tab3Sockets = new SocketWatch(tab3);
  await gotoHydrated(tab3, `/c/${id}`);
  await expect(chatWindow(tab3, ann.account.displayName)).toBeVisible();
  await expect(messageInLog(tab3, 'Hello?')).toBeVisible();
  await tab3Sockets.waitForSubscribed(id);
  await markPage(tab3);

  await sendMessage(tab1, 'Yes, sorry, here now');
  await expect(messageInLog(tab3, 'Yes, sorry, here now')).toBeVisible();
  await expect(messageInLog(ann.page, 'Yes, sorry, here now')).toBeVisible();
  await expect(link2).toContainText('You: Yes, sorry, here now');
  // Once per tab: the live event and the send's answer are one message. Count once both
  // tabs have the live event (tab 1 has the answer: sendMessage waited for it) and have
  // applied it.
  await Promise.all([ben.sockets, tab3Sockets].map((s) => s.waitForMessage('Yes, sorry, here now')));
  await Promise.all([settled(tab1), settled(tab3)]);
  await expect(messageInLog(tab1, 'Yes, sorry, here now')).toHaveCount(1);
  await expect(messageInLog(tab3, 'Yes, sorry, here now')).toHaveCount(1);
  expect(await wasNotReloaded(tab3), 'tab 3 was not reloaded').toBe(true);

  expect(problems, 'console errors and page errors in tabs 2 and 3').toEqual([]);
});
