import type { Locator, Page, Request } from '@playwright/test';
import {
  type Person,
  bothInConversation,
  twoPeople,
  callServerFn,
  chatWindow,
  composer,
  conversationLink,
  conversations,
  expect,
  freshAccount,
  gotoHydrated,
  heardAllSentSoFar,
  messageInLog,
  messageLog,
  openDirectConversation,
  openDirectViaApi,
  saveScreenshot,
  sendMessage,
  settled,
  signUpViaApi,
  test,
  typingIndicator,
  waitForHydration,
  withServerEnv,
} from '../fixtures';

// Two people, each in their own browser context (own cookies, own WebSocket), talking
// in a direct conversation. Every test signs up two fresh accounts: tests in one worker
// share a server and database.

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 667 };

/** How long a typing indicator lasts without a new update (the client's TYPING_TTL_MS). */
const TYPING_TTL_MS = 5000;

/**
 * Typing tests are about what the keys do, so they press keys; one at a time without a
 * pause, and with a bound that says which step hung on a busy machine.
 */
const PER_KEY = { delay: 0, timeout: 15_000 };

type TypingFrame = { name: string; active: boolean; at: number };
type TextChange = { text: string; at: number };
type TypingRecord = { frames: TypingFrame[]; changes: TextChange[] };
type TypingWindow = { __typingFrames: TypingFrame[]; __indicatorChanges?: TextChange[] };

/**
 * An init script: every typing event the page's sockets receive is recorded, before the
 * app sees it, with the page's clock (Date.now(), the clock the app's expiry runs on) in
 * window.__typingFrames.
 */
function recordTypingFrames() {
  const Native = window.WebSocket;
  const frames: TypingFrame[] = [];
  (window as unknown as TypingWindow).__typingFrames = frames;
  class Recording extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('message', (e) => {
        const at = Date.now();
        try {
          const frame = JSON.parse(String((e as MessageEvent).data)) as {
            type?: string;
            event?: { kind?: string; display_name?: string; active?: boolean };
          };
          if (frame.type === 'event' && frame.event?.kind === 'typing') {
            frames.push({ name: frame.event.display_name ?? '', active: frame.event.active === true, at });
          }
        } catch {
          // Not JSON: not a typing event.
        }
      });
    }
  }
  window.WebSocket = Recording;
}

/**
 * Records, in the page and with the page's clock, every change of the typing indicator's
 * text; with `recordTypingFrames` installed, returns a reader of both records. Timing is
 * measured where it happens: the test's own polling is late by as much as the machine is
 * busy, and would blur "cleared by the stop" with "cleared by the 5 s expiry".
 */
async function watchTyping(indicator: Locator): Promise<() => Promise<TypingRecord>> {
  await indicator.evaluate((el) => {
    const changes: TextChange[] = [{ text: el.textContent ?? '', at: Date.now() }];
    (window as unknown as TypingWindow).__indicatorChanges = changes;
    new MutationObserver(() => {
      const text = el.textContent ?? '';
      if (text !== changes[changes.length - 1].text) changes.push({ text, at: Date.now() });
    }).observe(el, { childList: true, characterData: true, subtree: true });
  });
  return () =>
    indicator.page().evaluate(() => {
      const w = window as unknown as TypingWindow;
      return { frames: w.__typingFrames.slice(), changes: (w.__indicatorChanges ?? []).slice() };
    });
}

/**
 * The indicator's last spell of showing `text` (which has ended: it is empty again), with
 * the typing updates from `name` that it showed: the last "typing" one, and the "stopped"
 * one after it, if any, that came before it was cleared.
 */
function lastSpell(record: TypingRecord, name: string, text: string) {
  const { changes, frames } = record;
  const i = changes.map((c) => c.text).lastIndexOf(text);
  const cleared = changes[i + 1];
  if (i < 0 || cleared?.text !== '') {
    throw new Error(`the indicator did not show ${JSON.stringify(text)} and then clear: ${JSON.stringify(changes)}`);
  }
  const mine = frames.filter((f) => f.name === name && f.at <= cleared.at);
  const lastActive = mine.filter((f) => f.active).at(-1);
  if (!lastActive) {
    throw new Error(`no typing update from ${name} before the indicator cleared: ${JSON.stringify(frames)}`);
  }
  return {
    /** From the last typing update to the indicator clearing (page clock, ms). */
    sinceLastUpdate: cleared.at - lastActive.at,
    /** The "stopped typing" update that came after it, if one did. */
    stopped: mine.find((f) => !f.active && f.at >= lastActive.at),
  };
}

/** Records every dialog (alert, confirm, ...) a page opens, dismissing it. */
function recordDialogs(page: Page, into: string[]): void {
  page.on('dialog', async (dialog) => {
    into.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
}

/** Counts the page's POSTs to /api/send_message. */
function countSends(page: Page): { count: number } {
  const counter = { count: 0 };
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/send_message') counter.count++;
  });
  return counter;
}

/** A page's calls of server functions (/api/...), made from now on, not answered yet. */
function pendingApiCalls(page: Page): { readonly pending: number } {
  const open = new Set<Request>();
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) open.add(r);
  });
  page.on('requestfinished', (r) => open.delete(r));
  page.on('requestfailed', (r) => open.delete(r));
  return {
    get pending() {
      return open.size;
    },
  };
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

test('a message sent by one person appears for the other within a second, without reloading', async ({
  page,
  newSessionPage,
}) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  // Ann finds Ben with "New conversation"; Ben has the conversation open.
  const id = await openDirectConversation(ann.page, ben.account);
  await expect(conversationLink(ann.page, ben.account.displayName)).toBeVisible();
  await gotoHydrated(ben.page, `/c/${id}`);
  await expect(chatWindow(ben.page, ann.account.displayName)).toBeVisible();
  await Promise.all([ann.sockets.waitForSubscribed(id), ben.sockets.waitForSubscribed(id)]);
  await markPage(ben.page);
  await markPage(ann.page);

  const text = 'Hello Ben, this is Ann';
  await composer(ann.page).fill(text);
  await composer(ann.page).press('Enter');
  await expect(messageInLog(ben.page, text)).toBeVisible({ timeout: 1000 });
  expect(await wasNotReloaded(ben.page), 'Ben’s page was not reloaded').toBe(true);
  expect(await wasNotReloaded(ann.page), 'Ann’s page was not reloaded').toBe(true);

  // Ann's own copy is confirmed (no longer pending) ...
  await expect(chatWindow(ann.page, ben.account.displayName).getByText(/^(Sent|Seen)$/)).toBeVisible();
  await expect(chatWindow(ann.page, ben.account.displayName).getByText('Sending…')).toHaveCount(0);
  // ... and shown once on each side: the live event and the send's answer are one message.
  // Count once both tabs have the live event too, and have applied it.
  await Promise.all([ann.sockets.waitForMessage(text), ben.sockets.waitForMessage(text)]);
  await Promise.all([settled(ann.page), settled(ben.page)]);
  await expect(messageInLog(ann.page, text)).toHaveCount(1);
  await expect(messageInLog(ben.page, text)).toHaveCount(1);

  // And back the other way.
  const reply = 'Hi Ann, got it';
  await composer(ben.page).fill(reply);
  await composer(ben.page).press('Enter');
  await expect(messageInLog(ann.page, reply)).toBeVisible({ timeout: 1000 });
  await expect(chatWindow(ben.page, ann.account.displayName).getByText(/^(Sent|Seen)$/)).toBeVisible();
  await Promise.all([ann.sockets.waitForMessage(reply), ben.sockets.waitForMessage(reply)]);
  await Promise.all([settled(ann.page), settled(ben.page)]);
  await expect(messageInLog(ann.page, reply)).toHaveCount(1);
  await expect(messageInLog(ben.page, reply)).toHaveCount(1);
});

test('typing shows for the other person and clears after sending', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await ben.page.addInitScript(recordTypingFrames);
  await bothInConversation(ann, ben);
  const annName = ann.account.displayName;
  const typing = `${annName} is typing…`;
  const indicator = typingIndicator(ben.page, annName);
  await expect(indicator).toHaveText('');
  const record = await watchTyping(indicator);

  await composer(ann.page).pressSequentially('Just a sec', PER_KEY);
  await expect(indicator).toHaveText(typing);
  // Ann sees no indicator for herself.
  await expect(typingIndicator(ann.page, ben.account.displayName)).toHaveText('');

  await composer(ann.page).press('Enter');
  await expect(messageInLog(ben.page, 'Just a sec')).toBeVisible();
  await expect(indicator).toHaveText('');
  // It went because she sent, not because it timed out: her tab said she stopped, and it
  // cleared before the 5 s expiry could have cleared it.
  const sent = lastSpell(await record(), annName, typing);
  expect(sent.stopped, 'a "stopped typing" update reached Ben’s tab').toBeDefined();
  expect(sent.sinceLastUpdate, 'ms from the last typing update to the indicator clearing').toBeLessThan(TYPING_TTL_MS);
});

test('typing clears when the box is emptied or left, and expires on its own', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await ben.page.addInitScript(recordTypingFrames);
  await bothInConversation(ann, ben);
  const annName = ann.account.displayName;
  const indicator = typingIndicator(ben.page, annName);
  const typing = `${annName} is typing…`;
  await expect(indicator).toHaveText('');
  const record = await watchTyping(indicator);

  // Emptying the box: cleared by the update that says she stopped, before any expiry.
  await composer(ann.page).pressSequentially('abc', PER_KEY);
  await expect(indicator).toHaveText(typing);
  await composer(ann.page).press('ControlOrMeta+a');
  await composer(ann.page).press('Delete');
  await expect(composer(ann.page)).toHaveValue('');
  await expect(indicator).toHaveText('');
  const emptied = lastSpell(await record(), annName, typing);
  expect(emptied.stopped, 'emptying the box: a "stopped typing" update reached Ben’s tab').toBeDefined();
  expect(emptied.sinceLastUpdate, 'emptying the box: ms from the last typing update to clearing').toBeLessThan(
    TYPING_TTL_MS,
  );

  // Leaving the box: the same.
  await composer(ann.page).pressSequentially('def', PER_KEY);
  await expect(indicator).toHaveText(typing);
  await composer(ann.page).blur();
  await expect(indicator).toHaveText('');
  const left = lastSpell(await record(), annName, typing);
  expect(left.stopped, 'leaving the box: a "stopped typing" update reached Ben’s tab').toBeDefined();
  expect(left.sinceLastUpdate, 'leaving the box: ms from the last typing update to clearing').toBeLessThan(
    TYPING_TTL_MS,
  );

  // Expiry: one typing update and then nothing (she stops, still in the box with text).
  await composer(ann.page).focus();
  await composer(ann.page).pressSequentially('g', PER_KEY);
  await expect(indicator).toHaveText(typing);
  await expect(indicator).toHaveText('', { timeout: TYPING_TTL_MS + 10_000 });
  const expired = lastSpell(await record(), annName, typing);
  expect(expired.stopped, 'nothing told Ben’s tab she stopped: it expired').toBeUndefined();
  // About 5 s after the last update, measured in Ben's tab: not before (50 ms for the
  // clock's granularity), and not long after (the expiry is checked every 0.5 s).
  expect(expired.sinceLastUpdate, 'ms from the last typing update to the indicator expiring').toBeGreaterThanOrEqual(
    TYPING_TTL_MS - 50,
  );
  expect(expired.sinceLastUpdate, 'ms from the last typing update to the indicator expiring').toBeLessThan(
    TYPING_TTL_MS + 2000,
  );
});

test('the other person’s reading shows as Seen', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  // Ben stays on the start page, conversation not open.
  const id = await openDirectViaApi(ann.page.request, ann.page.url(), ben.account);
  await gotoHydrated(ann.page, `/c/${id}`);
  await ann.sockets.waitForSubscribed(id);
  await expect(conversationLink(ben.page, ann.account.displayName)).toBeVisible();
  // Ben's tab gets the message live (the way that could wrongly read it), not only with a
  // reload of his list.
  await ben.sockets.waitForSubscribed(id);

  const annWindow = chatWindow(ann.page, ben.account.displayName);
  const bensCalls = pendingApiCalls(ben.page);
  await sendMessage(ann.page, 'Did you read the report?');
  await expect(annWindow.getByText('Sent', { exact: true })).toBeVisible();
  // Ben has not opened the conversation: his tab has the message (his list counts it
  // unread), and does not read it, so it stays "Sent" on Ann's side.
  const bensLink = conversationLink(ben.page, ann.account.displayName);
  await expect(bensLink.getByLabel('1 unread', { exact: true })).toBeVisible();
  // Looked at once a read mark, had his tab sent one, would have come back to Ann's tab:
  // his tab has applied the message and been answered whatever it asked the server then,
  // and Ann's tab has everything the server sent it up to now.
  await ben.sockets.waitForMessage('Did you read the report?');
  await settled(ben.page);
  await expect
    .poll(() => bensCalls.pending, { message: "Ben's tab's server calls still unanswered" })
    .toBe(0);
  await heardAllSentSoFar(ann.page, ann.sockets);
  await settled(ann.page);
  await expect(annWindow.getByText('Sent', { exact: true })).toBeVisible();
  await expect(annWindow.getByText('Seen', { exact: true })).toHaveCount(0);

  // Ben opens it (by its address: the list's links are the badge test's subject).
  await gotoHydrated(ben.page, `/c/${id}`);
  await expect(messageInLog(ben.page, 'Did you read the report?')).toBeVisible();

  await expect(annWindow.getByText('Seen', { exact: true })).toBeVisible();
  await expect(annWindow.getByText('Sent', { exact: true })).toHaveCount(0);
});

test('unread badges count up and clear when the conversation is opened', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await openDirectViaApi(ann.page.request, ann.page.url(), ben.account);
  await gotoHydrated(ann.page, `/c/${id}`);
  await ann.sockets.waitForSubscribed(id);
  // Ben is on the start page with no conversation open; the new conversation reaches his list.
  await expect(ben.page).toHaveURL('/');
  const link = conversationLink(ben.page, ann.account.displayName);
  await expect(link).toBeVisible();
  await ben.sockets.waitForSubscribed(id);
  await expect(ben.page).toHaveTitle('Natter');

  await sendMessage(ann.page, 'First of two');
  await sendMessage(ann.page, 'Second of two');

  const badge = link.getByLabel(/^\d+ unread$/);
  await expect(link.getByLabel('2 unread', { exact: true })).toBeVisible();
  await expect(badge).toHaveText('2');
  await expect(link).toContainText('Second of two');
  await expect(ben.page).toHaveTitle('(2) Natter');
  // Ann wrote them: nothing unread for her, and her preview says so.
  await expect(conversationLink(ann.page, ben.account.displayName)).toContainText('You: Second of two');
  await expect(conversationLink(ann.page, ben.account.displayName).getByLabel(/unread/)).toHaveCount(0);
  await expect(ann.page).toHaveTitle('Natter');

  await link.click();
  await expect(ben.page).toHaveURL(`/c/${id}`);
  await expect(chatWindow(ben.page, ann.account.displayName)).toBeVisible();
  await expect(messageInLog(ben.page, 'Second of two')).toBeVisible();
  // The list is still there, shows this conversation as the current one, without a badge.
  await expect(link).toBeVisible();
  await expect(link).toHaveAttribute('aria-current', 'page');
  await expect(badge).toHaveCount(0);
  await expect(ben.page).toHaveTitle('Natter');

  // The server remembers it: after a reload it is still read.
  await gotoHydrated(ben.page, '/');
  await expect(link).toBeVisible();
  await expect(link).toContainText('Second of two');
  await expect(badge).toHaveCount(0);
  await expect(ben.page).toHaveTitle('Natter');
});

test('a reload keeps the history', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  const lines = ['One from Ann', 'One from Ben', 'Two from Ann', 'Two from Ben'];
  for (const [i, text] of lines.entries()) {
    const [from, to] = i % 2 === 0 ? [ann, ben] : [ben, ann];
    await sendMessage(from.page, text);
    await expect(messageInLog(to.page, text)).toBeVisible();
  }

  for (const person of [ann, ben]) {
    await person.page.reload();
    await waitForHydration(person.page);
    await expect(person.page).toHaveURL(`/c/${id}`);
    for (const text of lines) await expect(messageInLog(person.page, text)).toHaveCount(1);
    const bodies = await messageLog(person.page).locator('p').filter({ hasText: / from (Ann|Ben)$/ }).allTextContents();
    expect(bodies, `${person.account.displayName}'s history after a reload, in order`).toEqual(lines);
  }
});

// Filling a conversation with 200 messages at once is over the default rate a person may
// send at (messages_per_minute): this test gets a server (and a worker) with a higher one.
const bulkTest = withServerEnv({ NATTER_MESSAGES_PER_MINUTE: '100000' });

bulkTest('a 200-message history scrolls back fully', async ({ page, request, baseURL }) => {
  test.setTimeout(120_000);
  const ann = freshAccount('ann_', 'Ann');
  const ben = freshAccount('ben_', 'Ben');
  await signUpViaApi(page.request, baseURL!, ann);
  await signUpViaApi(request, baseURL!, ben);

  const id = await openDirectViaApi(page.request, baseURL!, ben);

  const TOTAL = 200;
  for (let n = 1; n <= TOTAL; n++) {
    const sent = await callServerFn(page.request, baseURL!, 'send_message', {
      conversation_id: id,
      client_msg_id: `bulk-${id.slice(-12)}-${n}`,
      body: `message ${n}`,
    });
    expect(sent.status(), `send of message ${n}`).toBe(200);
  }

  await gotoHydrated(page, `/c/${id}`);
  const log = messageLog(page);
  const bodies = log.getByText(/^message \d+$/);
  const beginning = log.getByText('This is the beginning of the conversation.', { exact: true });
  // The first page: the newest 50, scrolled to the newest, with the composer on screen.
  // The log is the part that scrolls; the page itself does not.
  await expect(messageInLog(page, 'message 200')).toBeVisible();
  const sizes = await log.evaluate((el) => ({
    log: { scrollHeight: el.scrollHeight, clientHeight: el.clientHeight },
    page: { scrollHeight: document.documentElement.scrollHeight, clientHeight: document.documentElement.clientHeight },
  }));
  expect(sizes.log.scrollHeight, `the log scrolls inside itself: ${JSON.stringify(sizes)}`).toBeGreaterThan(
    sizes.log.clientHeight,
  );
  expect(sizes.page.scrollHeight, `the page does not scroll: ${JSON.stringify(sizes)}`).toBeLessThanOrEqual(
    sizes.page.clientHeight,
  );
  await expect(messageInLog(page, 'message 200')).toBeInViewport();
  await expect(composer(page)).toBeInViewport();
  await expect(bodies).toHaveCount(50);
  await expect(messageInLog(page, 'message 151')).toHaveCount(1);
  await expect(messageInLog(page, 'message 150')).toHaveCount(0);
  await expect(beginning).toHaveCount(0);

  // Scroll to the top again and again, as a person would, until the beginning shows.
  await expect(async () => {
    await log.evaluate((el) => {
      el.scrollTop = 0;
    });
    await expect(beginning).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 60_000 });

  await expect(messageInLog(page, 'message 1')).toBeVisible();
  await expect(messageInLog(page, 'message 1')).toBeInViewport();
  await expect(bodies).toHaveCount(TOTAL);
  const texts = await bodies.allTextContents();
  expect(texts).toEqual(Array.from({ length: TOTAL }, (_, i) => `message ${i + 1}`));
});

test('markup in a message shows as text', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const dialogs: string[] = [];
  recordDialogs(ann.page, dialogs);
  recordDialogs(ben.page, dialogs);
  await bothInConversation(ann, ben);

  const markup = '<img src=x onerror=alert(1)>';
  const bold = '<b>not bold</b> & <script>alert(2)</script>';
  await sendMessage(ann.page, markup);
  await sendMessage(ann.page, bold);

  for (const person of [ann, ben]) {
    await expect(messageInLog(person.page, markup)).toBeVisible();
    await expect(messageInLog(person.page, bold)).toBeVisible();
    await expect(messageLog(person.page).locator('img, b, script')).toHaveCount(0);
  }
  // Ben's list preview of the newest message is text too.
  await expect(conversationLink(ben.page, ann.account.displayName)).toContainText(bold);
  await expect(conversations(ben.page).locator('img, b, script')).toHaveCount(0);

  // And after a fresh load.
  await ben.page.reload();
  await waitForHydration(ben.page);
  await expect(messageInLog(ben.page, markup)).toBeVisible();
  await expect(messageLog(ben.page).locator('img, b, script')).toHaveCount(0);

  // An onerror handler fires once its image has failed to load: wait until every image on
  // both pages has finished loading (or failing), then no dialog may have opened.
  for (const person of [ann, ben]) {
    await expect
      .poll(() => person.page.evaluate(() => Array.from(document.images).every((img) => img.complete)), {
        message: `every image on ${person.account.displayName}'s page has loaded or failed`,
      })
      .toBe(true);
    await settled(person.page);
  }
  expect(dialogs, 'dialogs opened by message content').toEqual([]);
});

test('empty and over-long messages are refused with a message and keep the text', async ({
  page,
  newSessionPage,
  baseURL,
}) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  const sends = countSends(ann.page);
  const box = composer(ann.page);
  const annWindow = chatWindow(ann.page, ben.account.displayName);
  const EMPTY = 'A message cannot be empty.';

  // Whitespace only, with Enter.
  await box.fill('   ');
  await box.press('Enter');
  await expect(annWindow.getByText(EMPTY, { exact: true })).toBeVisible();
  await expect(box).toHaveAttribute('aria-invalid', 'true');
  await expect(box).toHaveAccessibleDescription(EMPTY);
  await expect(box).toHaveValue('   ');

  // Nothing at all, with the Send button.
  await box.fill('');
  await annWindow.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(annWindow.getByText(EMPTY, { exact: true })).toBeVisible();

  // One character over the limit.
  const tooLong = 'x'.repeat(4001);
  await box.fill(tooLong);
  await expect(annWindow.getByText(EMPTY, { exact: true })).toHaveCount(0);
  await box.press('Enter');
  const LONG = 'A message can have at most 4000 characters; this one has 4001.';
  await expect(annWindow.getByText(LONG, { exact: true })).toBeVisible();
  await expect(box).toHaveAttribute('aria-invalid', 'true');
  await expect(box).toHaveValue(tooLong);

  // None of it was sent: not asked for, not stored, not shown. (The refusals above are on
  // screen, so the key presses were handled; any request they started has been issued.)
  await settled(ann.page);
  expect(sends.count, 'POSTs to /api/send_message').toBe(0);
  const stored = await callServerFn(ann.page.request, baseURL!, 'messages', { conversation_id: id });
  expect(stored.status()).toBe(200);
  expect(await stored.json()).toEqual([]);
  await expect(messageLog(ann.page).getByText(/^x+$/)).toHaveCount(0);
  await expect(messageLog(ben.page).getByText(/^x+$/)).toHaveCount(0);

  // Exactly at the limit it goes, and the error goes away.
  const atLimit = 'y'.repeat(4000);
  await box.fill(atLimit);
  await expect(annWindow.getByText(LONG, { exact: true })).toHaveCount(0);
  await box.press('Enter');
  await expect(messageInLog(ben.page, atLimit)).toBeVisible();
  await expect(box).toHaveValue('');
  await expect(box).not.toHaveAttribute('aria-invalid', 'true');
  expect(sends.count).toBe(1);
});

test('Shift+Enter makes a new line and Enter sends', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  const sends = countSends(ann.page);
  const box = composer(ann.page);

  // The key this test is about is Shift+Enter; the words around it go in as text (the way
  // a paste or an input method puts them in: one input event each, no key events).
  await box.fill('line one');
  await box.press('Shift+Enter');
  await ann.page.keyboard.insertText('line two');
  await expect(box).toHaveValue('line one\nline two');
  expect(sends.count, 'Shift+Enter did not send').toBe(0);

  await box.press('Enter');
  await expect(box).toHaveValue('');
  const received = messageInLog(ben.page, 'line one line two');
  await expect(received).toBeVisible();
  // Two lines on screen, not one run together.
  expect(await received.evaluate((el) => (el as HTMLElement).innerText)).toBe('line one\nline two');
  await expect(messageInLog(ann.page, 'line one line two')).toHaveCount(1);
  expect(sends.count).toBe(1);
});

test('a retried send creates one message', async ({ page, request, baseURL }) => {
  const ann = freshAccount('ann_', 'Ann');
  const ben = freshAccount('ben_', 'Ben');
  await signUpViaApi(page.request, baseURL!, ann);
  await signUpViaApi(request, baseURL!, ben);
  const id = await openDirectViaApi(page.request, baseURL!, ben);

  const form = { conversation_id: id, client_msg_id: `retry-${id.slice(-8)}-1`, body: 'Sent twice, stored once' };
  const first = await callServerFn(page.request, baseURL!, 'send_message', form);
  expect(first.status()).toBe(200);
  const second = await callServerFn(page.request, baseURL!, 'send_message', form);
  expect(second.status()).toBe(200);
  type Message = { id: string; seq: number; body: string; client_msg_id: string };
  const a = (await first.json()) as Message;
  const b = (await second.json()) as Message;
  expect(b.id).toBe(a.id);
  expect(b.seq).toBe(a.seq);
  expect(a.body).toBe(form.body);

  const listed = await callServerFn(page.request, baseURL!, 'messages', { conversation_id: id });
  expect(listed.status()).toBe(200);
  const messages = (await listed.json()) as Message[];
  expect(messages.map((m) => [m.id, m.seq, m.body])).toEqual([[a.id, a.seq, form.body]]);

  // A new send after it gets the next seq: the retry did not use one up.
  const next = await callServerFn(page.request, baseURL!, 'send_message', {
    ...form,
    client_msg_id: `retry-${id.slice(-8)}-2`,
    body: 'The next one',
  });
  expect(((await next.json()) as Message).seq).toBe(a.seq + 1);

  // The app shows it once.
  await gotoHydrated(page, `/c/${id}`);
  await expect(messageInLog(page, form.body)).toHaveCount(1);
  await expect(messageInLog(page, 'The next one')).toBeVisible();
});

test('a send lost on the network waits, is sent again by itself, and is delivered once', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  // The aborted requests are logged by the browser.
  allowConsoleErrors(/net::ERR_FAILED/);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  const annWindow = chatWindow(ann.page, ben.account.displayName);
  const sends = countSends(ann.page);

  // The network drops the send before it reaches the server.
  await ann.page.route('**/api/send_message', (route) => route.abort('failed'));
  await composer(ann.page).fill('Through the tunnel');
  await composer(ann.page).press('Enter');
  await expect(annWindow.getByText(/^Waiting to send: No connection to Natter/)).toBeVisible();
  await expect(annWindow.getByRole('button', { name: 'Send now', exact: true })).toBeVisible();
  await expect(annWindow.getByText(/^Not sent: /)).toHaveCount(0);
  await saveScreenshot(ann.page, 'chat-outbox-waiting.png');
  await expect(messageInLog(ann.page, 'Through the tunnel')).toHaveCount(1);
  await expect(messageInLog(ben.page, 'Through the tunnel')).toHaveCount(0);

  // The network is back: the next automatic attempt (1 s, 2 s, 4 s ... apart) gets through.
  await ann.page.unroute('**/api/send_message');
  await expect(messageInLog(ben.page, 'Through the tunnel')).toBeVisible({ timeout: 20_000 });
  await expect(annWindow.getByText(/^Waiting to send/)).toHaveCount(0);
  await expect(annWindow.getByText(/^(Sent|Seen)$/)).toBeVisible();
  expect(sends.count).toBeGreaterThan(1);
  // Both tabs have the live event as well as (Ann) the answer, and have applied it.
  await Promise.all([ann, ben].map((p) => p.sockets.waitForMessage('Through the tunnel')));
  await Promise.all([settled(ann.page), settled(ben.page)]);
  await expect(messageInLog(ann.page, 'Through the tunnel')).toHaveCount(1);
  await expect(messageInLog(ben.page, 'Through the tunnel')).toHaveCount(1);
});

test('a refused send shows Not sent with its reason, and Retry sends it once more', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  allowConsoleErrors(/status of 403/);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  const annWindow = chatWindow(ann.page, ben.account.displayName);

  // The server (here: a proxy in front of it) refuses: not retried by itself.
  await ann.page.route('**/api/send_message', (route) =>
    route.fulfill({ status: 403, contentType: 'application/json', body: '"Forbidden"' }),
  );
  await composer(ann.page).fill('Refused once');
  await composer(ann.page).press('Enter');
  await expect(annWindow.getByText('Not sent: You are not allowed to do that.')).toBeVisible();
  const retry = annWindow.getByRole('button', { name: 'Retry', exact: true });
  await ann.page.unroute('**/api/send_message');
  // Not sent again by itself: nothing goes out over a span longer than the outbox's first
  // two pauses (1 s, 2 s) would be. (A span of time is what this checks; there is no
  // event to wait for.)
  const sends = countSends(ann.page);
  await ann.page.waitForTimeout(3_500);
  expect(sends.count, 'POSTs to /api/send_message after the refusal').toBe(0);
  await expect(messageInLog(ben.page, 'Refused once')).toHaveCount(0);
  await retry.click();
  await expect(messageInLog(ben.page, 'Refused once')).toBeVisible();
  await expect(annWindow.getByText(/^Not sent: /)).toHaveCount(0);
  await expect(messageInLog(ann.page, 'Refused once')).toHaveCount(1);
});

test('a conversation looks right on a desktop, in dark mode and on a phone', async ({ page, newSessionPage }) => {
  await page.setViewportSize(DESKTOP);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  const lines: [Person, string][] = [
    [ann, 'Hi Ben! Are we still on for lunch tomorrow?'],
    [ben, 'Yes! 12:30 at the usual place?'],
    [ann, 'Perfect.\nI will bring the slides for the review afterwards.'],
    [ben, 'Great, see you then!'],
  ];
  for (const [from, text] of lines) {
    const to = from === ann ? ben : ann;
    await sendMessage(from.page, text);
    await expect(messageInLog(to.page, text.replace('\n', ' '))).toBeVisible();
  }
  // Both had the conversation open throughout: each one's last message shows as seen.
  await expect(chatWindow(ann.page, ben.account.displayName).getByText('Seen', { exact: true })).toBeVisible();
  await expect(chatWindow(ben.page, ann.account.displayName).getByText('Seen', { exact: true })).toBeVisible();

  await ann.page.emulateMedia({ colorScheme: 'light' });
  await saveScreenshot(ann.page, 'chat-light.png');
  await ann.page.emulateMedia({ colorScheme: 'dark' });
  await saveScreenshot(ann.page, 'chat-dark.png');

  // Ben opens the conversation on a phone.
  await ben.page.setViewportSize(PHONE);
  await gotoHydrated(ben.page, `/c/${id}`);
  await expect(chatWindow(ben.page, ann.account.displayName)).toBeVisible();
  await expect(messageInLog(ben.page, 'Great, see you then!')).toBeVisible();
  await saveScreenshot(ben.page, 'chat-phone.png');
  // On a phone the conversation takes the screen: newest message and composer in view,
  // nothing to scroll sideways.
  await expect(composer(ben.page)).toBeInViewport();
  await expect(messageInLog(ben.page, 'Great, see you then!')).toBeInViewport();
  const width = await ben.page.evaluate(() => document.documentElement.scrollWidth);
  expect(width, 'document width on a 375 px screen').toBeLessThanOrEqual(PHONE.width);
});
