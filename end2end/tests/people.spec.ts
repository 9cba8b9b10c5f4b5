import type { Locator, Page } from '@playwright/test';
import {
  HTTP_4XX_RESOURCE_ERROR,
  type NewAccount,
  type Person,
  SocketWatch,
  bothInConversation,
  callServerFn,
  chatWindow,
  composer,
  expect,
  expectRefused,
  freshAccount,
  gotoHydrated,
  messageInLog,
  saveScreenshot,
  sendMessage,
  settled,
  signUp,
  twoPeople,
  typingIndicator,
  withServerEnv,
} from '../fixtures';

// What each person controls for themselves: blocking someone, the bell, muting.
// Missed calls ring for three seconds here, so the bell test does not wait long.
const test = withServerEnv({ NATTER_CALL_RING_TIMEOUT_SECS: '3' });

function optionsButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Conversation options' });
}

function subtitle(page: Page, title: string): Locator {
  return chatWindow(page, title).locator('.chat-subtitle');
}

function bell(page: Page): Locator {
  return page.getByRole('button', { name: /^Notifications/ });
}

function bellPanel(page: Page): Locator {
  return page.getByRole('dialog', { name: 'Notifications' });
}

async function userId(page: Page, other: NewAccount): Promise<string> {
  const found = await callServerFn(page.request, page.url(), 'search_users', { query: other.username });
  const users = (await found.json()) as { id: string; username: string }[];
  const user = users.find((u) => u.username === other.username);
  expect(user, `search finds ${other.username}`).toBeTruthy();
  return user!.id;
}

/**
 * Picks a menu item of the conversation's options that changes a setting on the server,
 * and waits for the server's answer: the page may be left right after.
 */
async function chooseOption(page: Page, item: string, endpoint: string): Promise<void> {
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/${endpoint}`);
  await optionsButton(page).click();
  await page.getByRole('menuitem', { name: item }).click();
  const response = await answered;
  expect(response.status(), `${item}: POST /api/${endpoint}`).toBe(200);
}

function helloConnectionId(p: Person): number {
  const open = p.sockets.current();
  const hello = open[open.length - 1]?.received.find((f) => f.type === 'hello');
  expect(hello, 'the socket said hello').toBeTruthy();
  return hello!.connection_id as number;
}

test('a personal block stops direct messages, calls, typing and presence both ways until lifted in settings', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  // Three browsers running the app, and the conversation loaded again several times.
  test.slow();
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const catPage = await newSessionPage();
  const cat: Person = { account: freshAccount('cat_', 'Cat'), page: catPage, sockets: new SocketWatch(catPage) };
  await signUp(cat.page, cat.account);
  const dm = await bothInConversation(ann, ben);
  const annName = ann.account.displayName;
  const benName = ben.account.displayName;
  await expect(subtitle(ann.page, benName)).toContainText('Online');
  await expect(subtitle(ben.page, annName)).toContainText('Online');

  // A group of the three, where a block silences no one but hides typing between the two.
  const ids = [await userId(ann.page, ben.account), await userId(ann.page, cat.account)];
  const created = await callServerFn(ann.page.request, ann.page.url(), 'create_group', {
    title: 'Three of us',
    'member_ids[0]': ids[0],
    'member_ids[1]': ids[1],
  });
  expect(created.status()).toBe(200);
  const group = (await created.json()) as string;

  await optionsButton(ann.page).click();
  await ann.page.getByRole('menuitem', { name: `Block ${benName}` }).click();
  const annNotice = chatWindow(ann.page, benName).getByRole('note');
  await expect(annNotice).toContainText(`You blocked ${benName}`);
  await expect(composer(ann.page)).toHaveCount(0);
  await expect(ann.page.getByRole('button', { name: 'Start video call' })).toHaveCount(0);
  // Ben's side: no composer, no presence of Ann.
  await expect(chatWindow(ben.page, annName).getByRole('note')).toHaveText(`You can't message or call ${annName}.`);
  await expect(composer(ben.page)).toHaveCount(0);
  await expect(subtitle(ben.page, annName)).toContainText('Offline');
  await expect(subtitle(ann.page, benName)).toContainText('Offline');
  await saveScreenshot(ben.page, 'blocked-by-them.png');

  // The server refuses what the page no longer offers: a message and a call, both ways.
  for (const [who, text] of [
    [ben, 'This person is not accepting messages or calls from you.'],
    [ann, 'You blocked this person. Unblock them to message or call.'],
  ] as const) {
    const sent = await callServerFn(who.page.request, who.page.url(), 'send_message', {
      conversation_id: dm,
      client_msg_id: `blocked-${Date.now()}`,
      body: 'hello?',
    });
    expect(await expectRefused(sent, 409, 'a message across a block')).toContain(text);
    const call = await callServerFn(who.page.request, who.page.url(), 'start_call', {
      conversation_id: dm,
      media: 'audio',
      connection_id: helloConnectionId(who),
    });
    expect(await expectRefused(call, 409, 'a call across a block')).toContain(text);
  }

  // In the group, Ben types: Cat sees it, Ann does not.
  await Promise.all([
    gotoHydrated(ann.page, `/c/${group}`),
    gotoHydrated(ben.page, `/c/${group}`),
    gotoHydrated(cat.page, `/c/${group}`),
  ]);
  await Promise.all([ann, ben, cat].map((p) => p.sockets.waitForSubscribed(group)));
  await composer(ben.page).fill('are you there');
  await expect(typingIndicator(cat.page, 'Three of us')).toHaveText(`${benName} is typing…`);
  // The typing frame reached Cat; Ann's socket never got one from Ben.
  await expect
    .poll(() => cat.sockets.allReceived().some((f) => JSON.stringify(f).includes('"typing"')))
    .toBe(true);
  expect(ann.sockets.allReceived().filter((f) => JSON.stringify(f).includes('"typing"'))).toEqual([]);
  await expect(typingIndicator(ann.page, 'Three of us')).toHaveText('');
  await composer(ben.page).press('Enter');
  await expect(messageInLog(ann.page, 'are you there')).toBeVisible();
  // Ann's socket has the message now, and with it everything the server sent it before (one
  // connection's frames arrive in order): the typing Cat saw never reached Ann.
  await ann.sockets.waitForMessage('are you there');
  expect(ann.sockets.allReceived().filter((f) => JSON.stringify(f).includes('"typing"'))).toEqual([]);

  // Ann unblocks Ben from her settings; they talk again.
  await gotoHydrated(ann.page, '/settings');
  const blocked = ann.page.getByRole('list', { name: 'Blocked people' });
  await expect(blocked.getByRole('listitem')).toHaveCount(1);
  await saveScreenshot(ann.page, 'settings-blocked.png');
  await blocked.getByRole('listitem').filter({ hasText: benName }).getByRole('button', { name: 'Unblock' }).click();
  await expect(ann.page.getByText("You haven't blocked anyone.")).toBeVisible();
  await Promise.all([gotoHydrated(ann.page, `/c/${dm}`), gotoHydrated(ben.page, `/c/${dm}`)]);
  await Promise.all([ann.sockets.waitForSubscribed(dm), ben.sockets.waitForSubscribed(dm)]);
  await sendMessage(ann.page, 'sorry, misclick');
  await expect(messageInLog(ben.page, 'sorry, misclick')).toBeVisible();
  await expect(subtitle(ben.page, annName)).toContainText('Online');
});

test('the bell counts a missed call, lists it and marks it read', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const dm = await bothInConversation(ann, ben);
  // Ben looks elsewhere; Ann calls and nobody answers. (Ben's tab on the start page is
  // connected before she calls: a ring is told to the tabs that are.)
  await gotoHydrated(ben.page, '/');
  await ben.sockets.waitForSubscribed(dm);
  await expect(bell(ben.page)).toHaveAccessibleName('Notifications');
  await ann.page.getByRole('button', { name: 'Start audio call' }).click();
  await expect(ben.page.getByRole('button', { name: 'Accept' })).toBeVisible();
  // Rings for 3 s, then counts as missed: the call log line is one unread message, the
  // missed call one notification.
  await expect(bell(ben.page)).toHaveAccessibleName('Notifications, 2 unread', { timeout: 15_000 });
  await bell(ben.page).click();
  const panel = bellPanel(ben.page);
  const missed = panel.locator('.bell-item[data-kind="missed_call"]');
  await expect(missed).toContainText(`Missed call from ${ann.account.displayName}`);
  await expect(missed).toHaveClass(/unread/);
  await saveScreenshot(ben.page, 'bell-missed-call.png');
  await missed.getByRole('button', { name: 'Mark read' }).click();
  await expect(bell(ben.page)).toHaveAccessibleName('Notifications, 1 unread');
  await expect(missed).not.toHaveClass(/unread/);
  // Following the unread conversation opens it, which reads it (in a tab in front).
  await ben.page.bringToFront();
  await panel.locator('.bell-item[data-kind="message"]').getByRole('link').click();
  await expect(ben.page).toHaveURL(`/c/${dm}`);
  await expect(bell(ben.page)).toHaveAccessibleName('Notifications');
});

test('being added to a group is in the bell, and mark all as read clears it on every tab', async ({
  page,
  newSessionPage,
}) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const secondTab = await ben.page.context().newPage();
  const secondTabSockets = new SocketWatch(secondTab);
  await gotoHydrated(secondTab, '/');
  // Both of Ben's tabs are connected before anything happens that they should hear of.
  await Promise.all([ben.sockets.waitForConnected(), secondTabSockets.waitForConnected()]);
  const benId = await userId(ann.page, ben.account);
  const created = await callServerFn(ann.page.request, ann.page.url(), 'create_group', {
    title: 'Launch plans',
    'member_ids[0]': benId,
  });
  expect(created.status()).toBe(200);
  const group = (await created.json()) as string;
  for (const i of [1, 2]) {
    const sent = await callServerFn(ann.page.request, ann.page.url(), 'send_message', {
      conversation_id: group,
      client_msg_id: `launch-${i}-${Date.now()}`,
      body: `plan ${i}`,
    });
    expect(sent.status()).toBe(200);
  }
  await expect(bell(ben.page)).toHaveAccessibleName('Notifications, 2 unread');
  await bell(ben.page).click();
  const panel = bellPanel(ben.page);
  await expect(panel.locator('.bell-item[data-kind="added_to_group"]')).toContainText(
    `${ann.account.displayName} added you to Launch plans`,
  );
  await expect(panel.locator('.bell-item[data-kind="message"]')).toContainText('2 new messages in Launch plans');
  await saveScreenshot(ben.page, 'bell-list.png');
  await panel.getByRole('button', { name: 'Mark all as read' }).click();
  await expect(bell(ben.page)).toHaveAccessibleName('Notifications');
  await expect(bell(secondTab)).toHaveAccessibleName('Notifications');
  await expect(panel.locator('.bell-item.unread')).toHaveCount(0);
});

test('a muted conversation still counts unread but makes no sound', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  // Count the sounds Ben's page plays.
  await ben.page.addInitScript(() => {
    (window as unknown as { plays: number }).plays = 0;
    HTMLMediaElement.prototype.play = function () {
      (window as unknown as { plays: number }).plays += 1;
      return Promise.resolve();
    };
  });
  const dm = await bothInConversation(ann, ben);
  await chooseOption(ben.page, 'Mute notifications', 'mute');
  await gotoHydrated(ben.page, '/');
  await ben.sockets.waitForSubscribed(dm);
  await sendMessage(ann.page, 'quiet one');
  await expect(bell(ben.page)).toHaveAccessibleName('Notifications, 1 unread');
  await bell(ben.page).click();
  await expect(bellPanel(ben.page).locator('.bell-item[data-kind="message"]')).toContainText('Muted');
  // No sound once his tab has had the message's live event and handled it (the count may
  // have come from a reload of the list, ahead of the event that would play the sound).
  await ben.sockets.waitForMessage('quiet one');
  await settled(ben.page);
  expect(await ben.page.evaluate(() => (window as unknown as { plays: number }).plays)).toBe(0);

  // Unmuted, the next message makes its sound.
  await gotoHydrated(ben.page, `/c/${dm}`);
  await chooseOption(ben.page, 'Unmute notifications', 'mute');
  await gotoHydrated(ben.page, '/');
  await ben.sockets.waitForSubscribed(dm);
  await sendMessage(ann.page, 'loud one');
  await expect.poll(() => ben.page.evaluate(() => (window as unknown as { plays: number }).plays)).toBe(1);
});

test('blocking someone during a call ends the call for both', async ({ page, newSessionPage }) => {
  // A call answered between two browsers (see calls.spec.ts).
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  await ann.page.getByRole('button', { name: 'Start audio call' }).click();
  await ben.page.getByRole('button', { name: 'Accept' }).click();
  for (const p of [ann, ben]) {
    await expect(p.page.locator('section.call-view')).toHaveAttribute('data-state', 'active');
  }
  const blocked = await callServerFn(ann.page.request, ann.page.url(), 'block', {
    user_id: await userId(ann.page, ben.account),
  });
  expect(blocked.status()).toBe(200);
  for (const p of [ann, ben]) {
    await expect(p.page.locator('section.call-view')).toBeHidden();
  }
  // The call is over in the record too: its log line is in the conversation.
  await expect(chatWindow(ann.page, ben.account.displayName).locator('.call-log')).toHaveCount(1);
});

test('a fellow group member can be blocked from the member list, with no direct conversation', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const created = await callServerFn(ann.page.request, ann.page.url(), 'create_group', {
    title: 'Book club',
    'member_ids[0]': await userId(ann.page, ben.account),
  });
  expect(created.status()).toBe(200);
  const group = (await created.json()) as string;
  await gotoHydrated(ann.page, `/c/${group}`);
  await ann.page.getByRole('button', { name: /^Members/ }).click();
  const members = ann.page.getByRole('group', { name: 'Members' });
  await members.getByRole('button', { name: `Block ${ben.account.displayName}` }).click();
  await expect(members.getByRole('button', { name: `Unblock ${ben.account.displayName}` })).toBeVisible();
  // Ben cannot start a direct conversation with Ann now.
  const opened = await callServerFn(ben.page.request, ben.page.url(), 'open_direct', {
    user_id: await userId(ben.page, ann.account),
  });
  expect(await expectRefused(opened, 409, 'a direct conversation across a block')).toContain(
    'This person is not accepting messages or calls from you.',
  );
  await gotoHydrated(ann.page, '/settings');
  await expect(ann.page.getByRole('list', { name: 'Blocked people' })).toContainText(ben.account.displayName);
});
