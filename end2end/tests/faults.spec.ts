/**
 * Natter's delivery promise under faults: once the server has acknowledged a message,
 * every member of the conversation receives it exactly once, in seq order, whatever
 * happens to connections or to the server process; and a message the server has not
 * acknowledged stays visibly pending in its writer's outbox and is sent by itself later.
 *
 * These tests prove it against the real thing: a real server process that the test
 * SIGKILLs, SIGTERMs and restarts (same port, same SQLite file), real Chromium tabs with
 * their real WebSockets, and the real database read by another program (python3's
 * sqlite3), which is the ground truth every tab's copy is compared with.
 *
 * 1. Chaos: five tabs of three people in a direct conversation and a group type messages
 *    while the server is SIGKILLed and restarted three times at random moments. Messages
 *    typed while it is down show as pending and go when it is back; in the end every tab
 *    shows exactly the database's history (seq 1..N, no gap, no duplicate, same bodies in
 *    the same order), every typed message is stored once, in the order its writer typed it,
 *    and nothing else was stored.
 * 2. A locked database: the send answers 503 (never a false success), the message waits
 *    visibly, nobody else sees it, nothing is stored; once the lock goes it lands once.
 * 3. SIGTERM: a send already in flight is finished (200) and stored, open tabs are told
 *    to reconnect (close code 1001), the process exits 0, and the tabs come back by
 *    themselves when a new server starts, holding the message once.
 * 4. A database restored from a backup: a tab holding messages the restored database no
 *    longer has is told to reset (`reset` frame) and shows the restored history, without
 *    a page reload.
 */
import type { BrowserContextOptions, Page } from '@playwright/test';
import {
  SocketWatch,
  callServerFn,
  chatWindow,
  composer,
  expect,
  gotoHydrated,
  messageInLog,
  messageLog,
  settled,
  test,
  waitForHydration,
} from '../fixtures';
import { ControlledServer, type Member, lockDatabase, signUpOn, sqlite } from '../server-control';
import fs from 'node:fs';
import path from 'node:path';

// ---------------------------------------------------------------------------
// Console errors a server going away causes (and nothing broader).
// ---------------------------------------------------------------------------

/** A fetch to a server that is not listening (Chromium logs it as a failed resource). */
const CONNECTION_REFUSED = /Failed to load resource: net::ERR_CONNECTION_REFUSED/;
/** A fetch whose server died while answering it (SIGKILL mid-request). */
const CONNECTION_CUT = /Failed to load resource: net::ERR_(CONNECTION_RESET|EMPTY_RESPONSE)/;
/** The tab's WebSocket cannot connect while the server is down. */
const WEBSOCKET_FAILED = /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws' failed/;
/** A write the server could not do (database locked: 503). */
const UNAVAILABLE_503 = /Failed to load resource: the server responded with a status of 503/;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

type OpenTab = (options?: BrowserContextOptions) => Promise<Page>;

/**
 * Opens tabs with `newSessionPage` and closes them all before the test stops its server.
 * A tab still open then would try to reconnect to a server that is gone, and Chromium
 * logs each refused attempt as a console error: noise from the test's own clean-up, which
 * on a slow machine lands before the fixtures close the browser contexts.
 */
function tabsFor(newSessionPage: OpenTab): { open: OpenTab; closeAll: () => Promise<void> } {
  const pages: Page[] = [];
  return {
    open: async (options) => {
      const page = await newSessionPage(options);
      pages.push(page);
      return page;
    },
    closeAll: async () => {
      // (One that cannot be closed now is closed with its browser context after the test.)
      await Promise.all(pages.map((page) => page.close().catch(() => undefined)));
    },
  };
}

/** Counts a page's HTTP requests that have not been answered yet. */
function trackRequests(page: Page): { pending: number } {
  const counter = { pending: 0 };
  page.on('request', () => counter.pending++);
  const done = () => counter.pending--;
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return counter;
}

/** A tab in a test: its page, what its sockets received, and its unanswered requests. */
type Tab = { page: Page; sockets: SocketWatch; requests: { pending: number } };

/** A second tab of the same person (same session cookie, own browser context and socket). */
async function secondTab(
  newSessionPage: (o?: { baseURL: string }) => Promise<Page>,
  baseURL: string,
  of: Page,
): Promise<Page> {
  const page = await newSessionPage({ baseURL });
  await page.context().addCookies(await of.context().cookies());
  return page;
}

/**
 * Ann and Ben signed up on `s`, each with a tab on their direct conversation, subscribed to
 * it. `beforeOpening` runs on both pages before they load the conversation.
 */
async function annAndBenTalking(s: ControlledServer, openTab: OpenTab, beforeOpening?: (page: Page) => Promise<void>) {
  const origin = s.baseURL;
  const [annPage, benPage] = await Promise.all([openTab({ baseURL: origin }), openTab({ baseURL: origin })]);
  const [ann, ben] = await Promise.all([signUpOn(annPage, origin, 'ann_', 'Ann'), signUpOn(benPage, origin, 'ben_', 'Ben')]);
  const id = await openDirect(ann, ben, origin);
  if (beforeOpening) await Promise.all([beforeOpening(annPage), beforeOpening(benPage)]);
  const annSockets = new SocketWatch(annPage);
  const benSockets = new SocketWatch(benPage);
  const annTab: Tab = { page: annPage, sockets: annSockets, requests: trackRequests(annPage) };
  const benTab: Tab = { page: benPage, sockets: benSockets, requests: trackRequests(benPage) };
  await Promise.all([gotoHydrated(annPage, `/c/${id}`), gotoHydrated(benPage, `/c/${id}`)]);
  await Promise.all([annSockets.waitForSubscribed(id), benSockets.waitForSubscribed(id)]);
  return { origin, annPage, benPage, ann, ben, id, annSockets, benSockets, annTab, benTab };
}

/**
 * The message is stored once, as seq 1, and each tab shows it once, also after everything
 * that could bring it a second time has arrived and been applied: its live event (`live`:
 * the tabs were connected when it was stored) and the answer to every request the tab made
 * (the send, the fetches that catch up after a reconnect).
 */
async function expectStoredAndShownOnce(s: ControlledServer, id: string, text: string, tabs: Tab[], live: boolean) {
  const stored = dbMessages(s.dbPath, id);
  expect(stored.map((m) => [m.seq, m.body]), 'stored once').toEqual([[1, text]]);
  for (const tab of tabs) {
    if (live) await tab.sockets.waitForMessage(text);
    await expect.poll(() => tab.requests.pending, { message: 'requests of the tab still unanswered' }).toBe(0);
    await settled(tab.page);
    await expect(messageInLog(tab.page, text)).toHaveCount(1);
  }
}

async function openDirect(from: Member, to: Member, origin: string): Promise<string> {
  const opened = await callServerFn(from.page.request, origin, 'open_direct', { user_id: to.id });
  expect(opened.status(), `open_direct: ${await opened.text()}`).toBe(200);
  return (await opened.json()) as string;
}

type DbMessage = { seq: number; body: string; client_msg_id: string; kind: string; id: string };

/** The conversation's messages as the database holds them, by seq. */
function dbMessages(dbPath: string, conversationId: string): DbMessage[] {
  const out = sqlite(
    dbPath,
    `c = sqlite3.connect(db, timeout=20)
rows = c.execute("SELECT seq, body, client_msg_id, kind, id FROM messages WHERE conversation_id = ? ORDER BY seq", (${JSON.stringify(conversationId)},)).fetchall()
print(json.dumps([dict(seq=r[0], body=r[1], client_msg_id=r[2], kind=r[3], id=r[4]) for r in rows]))`,
  );
  return JSON.parse(out) as DbMessage[];
}

type Row = { seq: number; body: string };

/** The confirmed message rows the tab shows for its open conversation, top to bottom. */
async function shownRows(page: Page): Promise<Row[]> {
  return messageLog(page)
    .locator('.message[data-seq]')
    .evaluateAll((els) =>
      els.map((el) => ({
        seq: Number(el.getAttribute('data-seq')),
        body: el.querySelector('.body')?.textContent ?? '',
      })),
    );
}

/** What a tab should show for these database rows (call-log rows are not `.message`s). */
function expectedRows(db: DbMessage[]): Row[] {
  return db.filter((m) => m.kind !== 'call').map((m) => ({ seq: m.seq, body: m.body }));
}

function pendingRows(page: Page) {
  return messageLog(page).locator('.message.pending');
}

function connectionStatus(page: Page) {
  return page.locator('.chat-header .connection[role=status]');
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

/** Records, in the page, the close code of every WebSocket it opens (window.__closeCodes). */
async function recordCloseCodes(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    const codes: number[] = [];
    (window as unknown as { __closeCodes: number[] }).__closeCodes = codes;
    class Recording extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener('close', (e) => codes.push((e as CloseEvent).code));
      }
    }
    window.WebSocket = Recording;
  });
}

function closeCodes(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { __closeCodes: number[] }).__closeCodes.slice());
}

function serverLog(s: ControlledServer): string {
  try {
    return fs.readFileSync(s.logPath, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The server never panicked (a panic in a request handler drops that request's connection
 * without an answer). Names the panics, not the whole log.
 */
function expectNoPanic(s: ControlledServer): void {
  const lines = serverLog(s).split('\n');
  const panics = lines.flatMap((line, i) =>
    line.includes('panicked') ? [`${line.trim()} ${lines[i + 1]?.trim() ?? ''}`] : [],
  );
  expect(panics, 'panics in the server log').toEqual([]);
}

async function healthz(s: ControlledServer): Promise<number> {
  const response = await fetch(`${s.baseURL}/healthz`, { signal: AbortSignal.timeout(5_000) });
  return response.status;
}

// ---------------------------------------------------------------------------
// 1. Chaos
// ---------------------------------------------------------------------------

/** Shared between the typing loops and the process killer. */
type Chaos = {
  /** The server process is dead and no new one has been started. */
  down: boolean;
  /** Typing loops checking a message typed while down (the restart waits for them). */
  checking: number;
  typedWhileDown: string[];
  /** Messages typed so far, over all loops. */
  progress: Map<string, number>;
};

type Sender = { name: string; page: Page; prefix: string; typed: string[] };

const MESSAGES_EACH = 16;

/** Types MESSAGES_EACH messages through the composer, a few hundred ms apart. */
async function typeMessages(sender: Sender, chaos: Chaos): Promise<void> {
  const { page } = sender;
  for (let i = 1; i <= MESSAGES_EACH; i++) {
    const body = `${sender.prefix}-${i}`;
    // Decided in one tick with the killer's flag: a restart waits until this check is done.
    const down = chaos.down;
    if (down) chaos.checking++;
    try {
      await composer(page).fill(body);
      await composer(page).press('Enter');
      sender.typed.push(body);
      chaos.progress.set(sender.name, i);
      if (down) {
        // The server is gone: the message waits in the outbox, visibly.
        const row = pendingRows(page).filter({ has: page.getByText(body, { exact: true }) });
        await expect(row, `${body} typed while the server was down shows as pending`).toBeVisible();
        await expect(row.locator('.receipt')).toHaveText(
          /^(Sending…|Waiting to send: No connection to Natter\. It will be sent when the connection is back\.)/,
        );
        chaos.typedWhileDown.push(body);
      }
    } finally {
      if (down) chaos.checking--;
    }
    await page.waitForTimeout(200 + Math.floor(Math.random() * 250));
  }
}

/** SIGKILLs the server and starts it again, three times, at random points of the typing. */
async function killThreeTimes(s: ControlledServer, chaos: Chaos, senders: number, log: string[]): Promise<void> {
  // Kill once every loop has typed at least this many (random, in three bands).
  const thresholds = [2 + Math.floor(Math.random() * 3), 7 + Math.floor(Math.random() * 3), 12 + Math.floor(Math.random() * 2)];
  for (const [round, threshold] of thresholds.entries()) {
    await expect
      .poll(
        () => chaos.progress.size === senders && Math.min(...chaos.progress.values()) >= threshold,
        { message: `every sender typed ${threshold} messages`, timeout: 60_000, intervals: [50] },
      )
      .toBe(true);
    // A little more randomness inside the typing of the next message.
    await sleep(Math.floor(Math.random() * 400));
    await s.kill('SIGKILL');
    chaos.down = true;
    const pause = 1_500 + Math.floor(Math.random() * 1_000);
    log.push(`kill ${round + 1} after ${threshold}+ messages each, down ${pause} ms`);
    await sleep(pause);
    chaos.down = false;
    await expect
      .poll(() => chaos.checking, { message: 'pending checks of messages typed while down', timeout: 30_000 })
      .toBe(0);
    await s.start();
  }
}

test('chaos: messages sent while the server is SIGKILLed and restarted three times all arrive once, in order, matching the database', async ({
  newSessionPage,
  allowConsoleErrors,
}) => {
  // Five tabs, three restarts of a debug server, a hundred messages through the outbox.
  test.setTimeout(300_000);
  for (const pattern of [CONNECTION_REFUSED, CONNECTION_CUT, WEBSOCKET_FAILED]) allowConsoleErrors(pattern);
  const s = new ControlledServer();
  const tabs = tabsFor(newSessionPage);
  try {
    await s.start();
    const origin = s.baseURL;
    const [annDmPage, benDmPage, catPage] = await Promise.all([
      tabs.open({ baseURL: origin }),
      tabs.open({ baseURL: origin }),
      tabs.open({ baseURL: origin }),
    ]);
    const [ann, ben, cat] = await Promise.all([
      signUpOn(annDmPage, origin, 'ann_', 'Ann'),
      signUpOn(benDmPage, origin, 'ben_', 'Ben'),
      signUpOn(catPage, origin, 'cat_', 'Cat'),
    ]);
    const annGroupPage = await secondTab(tabs.open, origin, annDmPage);
    const benGroupPage = await secondTab(tabs.open, origin, benDmPage);

    const dm = await openDirect(ann, ben, origin);
    const created = await callServerFn(annDmPage.request, origin, 'create_group', {
      title: 'Chaos',
      'member_ids[0]': ben.id,
      'member_ids[1]': cat.id,
    });
    expect(created.status(), `create_group: ${await created.text()}`).toBe(200);
    const group = (await created.json()) as string;

    const all = [
      { page: annDmPage, conversation: dm, sockets: new SocketWatch(annDmPage) },
      { page: benDmPage, conversation: dm, sockets: new SocketWatch(benDmPage) },
      { page: annGroupPage, conversation: group, sockets: new SocketWatch(annGroupPage) },
      { page: benGroupPage, conversation: group, sockets: new SocketWatch(benGroupPage) },
      { page: catPage, conversation: group, sockets: new SocketWatch(catPage) },
    ];
    await Promise.all(all.map((t) => gotoHydrated(t.page, `/c/${t.conversation}`)));
    await expect(chatWindow(annDmPage, ben.account.displayName)).toBeVisible();
    await expect(chatWindow(catPage, 'Chaos')).toBeVisible();
    await Promise.all(all.map((t) => t.sockets.waitForSubscribed(t.conversation)));

    const senders: Sender[] = [
      { name: 'ann-dm', page: annDmPage, prefix: 'ann-dm', typed: [] },
      { name: 'ben-dm', page: benDmPage, prefix: 'ben-dm', typed: [] },
      { name: 'ann-grp', page: annGroupPage, prefix: 'ann-grp', typed: [] },
      { name: 'ben-grp', page: benGroupPage, prefix: 'ben-grp', typed: [] },
      { name: 'cat-grp', page: catPage, prefix: 'cat-grp', typed: [] },
    ];
    const chaos: Chaos = { down: false, checking: 0, typedWhileDown: [], progress: new Map() };
    const kills: string[] = [];
    await Promise.all([
      ...senders.map((sender) => typeMessages(sender, chaos)),
      killThreeTimes(s, chaos, senders.length, kills),
    ]);
    expect(s.exits, 'three SIGKILLs').toEqual(['was killed by SIGKILL', 'was killed by SIGKILL', 'was killed by SIGKILL']);

    const typedTotal = senders.reduce((n, x) => n + x.typed.length, 0);
    const note = `${chaos.typedWhileDown.length} of ${typedTotal} messages typed while the server was down (${chaos.typedWhileDown.join(', ')}); ${kills.join('; ')}`;
    test.info().annotations.push({ type: 'typed while down', description: note });
    console.log(`[faults] ${note}`);
    expect(chaos.typedWhileDown.length, 'messages typed while the server was down (the outbox was exercised)').toBeGreaterThan(0);

    // Everything goes out by itself: no tab has anything pending.
    await expect
      .poll(
        async () => {
          const counts = await Promise.all(all.map((t) => pendingRows(t.page).count()));
          return counts.reduce((a, b) => a + b, 0);
        },
        { message: 'pending messages over all tabs', timeout: 60_000 },
      )
      .toBe(0);

    const typedIn = (conversation: string) =>
      senders.filter((x) => all.find((t) => t.page === x.page)!.conversation === conversation);
    for (const conversation of [dm, group]) {
      const db = dbMessages(s.dbPath, conversation);
      const label = conversation === dm ? 'direct conversation' : 'group';
      // The database: seq 1..N without gap or duplicate.
      expect(db.map((m) => m.seq), `${label}: stored seqs`).toEqual(db.map((_, i) => i + 1));
      // Every typed message stored exactly once, nothing else stored as text ...
      const text = db.filter((m) => m.kind === 'text');
      const writers = typedIn(conversation);
      const typed = writers.flatMap((x) => x.typed);
      expect(text.map((m) => m.body).sort(), `${label}: stored text messages are exactly the typed ones`).toEqual(
        [...typed].sort(),
      );
      expect(new Set(text.map((m) => m.client_msg_id)).size, `${label}: client ids unique`).toBe(text.length);
      // ... each writer's in the order they were typed.
      for (const writer of writers) {
        const stored = text.filter((m) => m.body.startsWith(`${writer.prefix}-`)).map((m) => m.body);
        expect(stored, `${label}: ${writer.name}'s messages in the order typed`).toEqual(writer.typed);
      }

      // Every member's tab shows exactly that history.
      const expected = expectedRows(db);
      for (const [i, tab] of all.entries()) {
        if (tab.conversation !== conversation) continue;
        await expect
          .poll(() => shownRows(tab.page), { message: `${label}: tab ${i} shows the database's history`, timeout: 30_000 })
          .toEqual(expected);
        for (const body of typed) await expect(messageInLog(tab.page, body)).toHaveCount(1);
      }
    }

    // A fresh load shows the same (the newest page of up to 50).
    await benDmPage.reload();
    await waitForHydration(benDmPage);
    const dmRows = expectedRows(dbMessages(s.dbPath, dm));
    await expect
      .poll(() => shownRows(benDmPage), { message: 'the reloaded tab shows the database history', timeout: 30_000 })
      .toEqual(dmRows.slice(-50));
    expectNoPanic(s);
  } finally {
    await tabs.closeAll();
    await s.dispose();
  }
});

// ---------------------------------------------------------------------------
// 2. Locked database
// ---------------------------------------------------------------------------

test('a send while the database is locked fails visibly, never falsely succeeds, and lands exactly once after the lock is released', async ({
  newSessionPage,
  allowConsoleErrors,
}) => {
  // A server of its own, two browsers, and an outbox that waits up to 15 s between tries.
  test.setTimeout(180_000);
  allowConsoleErrors(UNAVAILABLE_503);
  const s = new ControlledServer();
  const tabs = tabsFor(newSessionPage);
  let lock: { release: () => Promise<void> } | undefined;
  try {
    await s.start();
    const { annPage, benPage, ben, id, annTab, benTab } = await annAndBenTalking(s, tabs.open);

    const statuses: number[] = [];
    annPage.on('response', (r) => {
      if (new URL(r.url()).pathname === '/api/send_message') statuses.push(r.status());
    });

    lock = await lockDatabase(s.dbPath);
    const text = 'during the lock';
    const answered = annPage.waitForResponse((r) => new URL(r.url()).pathname === '/api/send_message', {
      timeout: 30_000,
    });
    await composer(annPage).fill(text);
    await composer(annPage).press('Enter');
    const first = await answered;
    expect(first.status(), `first answer to the send while locked: ${await first.text()}`).toBe(503);

    const annWindow = chatWindow(annPage, ben.account.displayName);
    const row = pendingRows(annPage).filter({ has: annPage.getByText(text, { exact: true }) });
    await expect(row.locator('.receipt.waiting[role=status]')).toHaveText(
      /^Waiting to send: Natter cannot save right now\. Your message will be sent when it can\./,
    );
    await expect(annWindow.locator('.receipt.failed')).toHaveCount(0);
    await expect(annWindow.getByText(/^(Sent|Seen)$/)).toHaveCount(0);
    await expect(messageLog(annPage).locator('.message[data-seq]')).toHaveCount(0);
    await expect(messageInLog(benPage, text)).toHaveCount(0);
    // Readers are not blocked by the writer's lock (WAL): nothing was stored.
    expect(dbMessages(s.dbPath, id), 'stored while locked').toEqual([]);
    expect(statuses.length, 'answers while locked').toBeGreaterThan(0);
    expect(statuses.every((x) => x === 503), `every answer while locked was 503: ${statuses}`).toBe(true);

    await lock.release();
    lock = undefined;
    // The outbox tries again by itself (1 s, 2 s, 4 s ... apart).
    await expect(messageInLog(benPage, text)).toHaveCount(1, { timeout: 30_000 });
    await expect(messageInLog(annPage, text)).toHaveCount(1, { timeout: 30_000 });
    await expect(pendingRows(annPage)).toHaveCount(0);
    await expect(annWindow.getByText(/^(Sent|Seen)$/)).toBeVisible();
    expect(statuses.at(-1), `answers: ${statuses}`).toBe(200);
    await expectStoredAndShownOnce(s, id, text, [annTab, benTab], true);

    expect(await healthz(s), '/healthz after the lock').toBe(200);
    expectNoPanic(s);
  } finally {
    await tabs.closeAll();
    if (lock) await lock.release();
    await s.dispose();
  }
});

// ---------------------------------------------------------------------------
// 3. SIGTERM
// ---------------------------------------------------------------------------

test('SIGTERM finishes a send in flight, tells the open tabs to reconnect with close code 1001, and exits cleanly', async ({
  newSessionPage,
  allowConsoleErrors,
}) => {
  // Two starts of a debug server, two browsers, and tabs that reconnect with a backoff.
  test.setTimeout(180_000);
  for (const pattern of [CONNECTION_REFUSED, WEBSOCKET_FAILED]) allowConsoleErrors(pattern);
  const s = new ControlledServer();
  const tabs = tabsFor(newSessionPage);
  let lock: { release: () => Promise<void> } | undefined;
  try {
    await s.start();
    const { origin, annPage, benPage, id, annSockets, benSockets, annTab, benTab } = await annAndBenTalking(
      s,
      tabs.open,
      recordCloseCodes,
    );
    await Promise.all([markPage(annPage), markPage(benPage)]);

    // The send is held up by the lock: it is in flight when the server is told to stop.
    lock = await lockDatabase(s.dbPath);
    const text = 'in flight at shutdown';
    const isSend = (url: string) => new URL(url).pathname === '/api/send_message';
    const requested = annPage.waitForRequest((r) => isSend(r.url()));
    const answered = annPage.waitForResponse((r) => isSend(r.url()), { timeout: 30_000 });
    await composer(annPage).fill(text);
    await composer(annPage).press('Enter');
    let responded = false;
    void answered.then(
      () => {
        responded = true;
      },
      () => {},
    );
    await requested;
    // Time for the request to reach the server and queue behind the lock (nothing outside
    // the server shows that it has). The server waits 5 s for a lock before answering 503,
    // which bounds this and the second below.
    await sleep(1_000);
    expect(responded, 'the send is still waiting for the lock when SIGTERM comes').toBe(false);
    await s.kill('SIGTERM', false);
    await sleep(1_000);
    // Still running: it waits for the send rather than dropping it.
    expect(responded, 'the send is still waiting for the lock 1 s after SIGTERM').toBe(false);
    expect(s.running, 'the server waits for the send in flight').toBe(true);
    await lock.release();
    lock = undefined;

    const response = await answered;
    expect(response.status(), `the send in flight at SIGTERM: ${await response.text()}`).toBe(200);
    expect(((await response.json()) as { body: string; seq: number }).seq).toBe(1);
    await s.exited();
    expect(s.exits, 'how the server ended').toEqual(['exited with code 0']);

    // The tabs were told to reconnect (1001), and say so.
    for (const [name, page] of [['Ann', annPage], ['Ben', benPage]] as const) {
      await expect.poll(() => closeCodes(page), { message: `${name}'s socket close codes` }).toContain(1001);
      await expect(connectionStatus(page)).toHaveText('Reconnecting…');
      await expect(page, `${name} stays on the conversation`).toHaveURL(`${origin}/c/${id}`);
    }
    // Nothing listens any more.
    await expect(healthz(s), 'GET /healthz while stopped').rejects.toThrow();

    await s.start();
    for (const page of [annPage, benPage]) {
      await expect(connectionStatus(page)).toHaveCount(0, { timeout: 45_000 });
    }
    await Promise.all([annSockets.waitForSubscribed(id, 30_000), benSockets.waitForSubscribed(id, 30_000)]);
    await expect(messageInLog(benPage, text)).toHaveCount(1, { timeout: 30_000 });
    await expect(messageInLog(annPage, text)).toHaveCount(1);
    await expect(pendingRows(annPage)).toHaveCount(0);
    // No live event: the tabs' sockets were closed before the send was stored; they caught up.
    await expectStoredAndShownOnce(s, id, text, [annTab, benTab], false);
    expect(await wasNotReloaded(annPage), 'Ann’s tab reconnected without a reload').toBe(true);
    expect(await wasNotReloaded(benPage), 'Ben’s tab reconnected without a reload').toBe(true);
    expectNoPanic(s);
  } finally {
    await tabs.closeAll();
    if (lock) await lock.release();
    await s.dispose();
  }
});

// ---------------------------------------------------------------------------
// 4. Restored backup
// ---------------------------------------------------------------------------

test('a backup made by `natter backup` while messages are sent holds every one answered before it; a client whose history the restored copy replaced is told to reset and shows it', async ({
  newSessionPage,
  allowConsoleErrors,
}) => {
  // Three starts of a debug server, two browsers, and tabs that reconnect with a backoff.
  test.setTimeout(180_000);
  for (const pattern of [CONNECTION_REFUSED, CONNECTION_CUT, WEBSOCKET_FAILED]) allowConsoleErrors(pattern);
  const s = new ControlledServer();
  const tabs = tabsFor(newSessionPage);
  try {
    await s.start();
    const { origin, annPage, benPage, id, annSockets, benSockets } = await annAndBenTalking(s, tabs.open);

    const send = async (page: Page, text: string) => {
      const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/send_message', { timeout: 30_000 });
      await composer(page).fill(text);
      await composer(page).press('Enter');
      expect((await answered).status(), `send of ${text}`).toBe(200);
      await expect(messageInLog(annPage, text)).toHaveCount(1);
      await expect(messageInLog(benPage, text)).toHaveCount(1);
    };
    await send(annPage, 'kept 1');
    await send(benPage, 'kept 2');
    await send(annPage, 'kept 3');

    // `natter backup` while Ben's other client goes on sending: every message answered
    // before the backup began must be in the copy.
    const backup = path.join(s.dataDir, 'backup.db');
    const answeredBeforeBackup: string[] = [];
    let backingUp = false;
    let sending = true;
    let backedUp: Promise<{ status: number; stdout: string; stderr: string }> | undefined;
    const startBackup = () => {
      backingUp = true;
      backedUp = s.cli(['backup', backup]);
    };
    const sender = (async () => {
      for (let n = 1; sending; n++) {
        const body = `during ${n}`;
        const sent = await callServerFn(benPage.request, origin, 'send_message', {
          conversation_id: id,
          client_msg_id: `during-${n}-${Date.now()}`,
          body,
        });
        expect(sent.status(), `send of ${body}`).toBe(200);
        if (!backingUp) answeredBeforeBackup.push(body);
        if (n === 3) void startBackup();
      }
    })();
    await expect.poll(() => backedUp !== undefined, { message: 'the backup started' }).toBe(true);
    const backedUpRun = await backedUp!;
    sending = false;
    await sender;
    expect(backedUpRun.status, backedUpRun.stderr).toBe(0);
    expect(backedUpRun.stderr).toContain('backed up into');
    expect(answeredBeforeBackup.length).toBeGreaterThanOrEqual(3);
    const again = await s.cli(['backup', backup]);
    expect(again.status, 'a backup never overwrites').not.toBe(0);
    expect(again.stderr).toContain('exists already');

    await send(benPage, 'lost 4');
    await send(annPage, 'lost 5');
    await send(benPage, 'lost 6');
    const before = dbMessages(s.dbPath, id);
    expect(before.slice(0, 3).map((m) => m.body)).toEqual(['kept 1', 'kept 2', 'kept 3']);
    expect(before.slice(-3).map((m) => m.body)).toEqual(['lost 4', 'lost 5', 'lost 6']);
    for (const page of [annPage, benPage]) await expect.poll(() => shownRows(page)).toEqual(expectedRows(before));
    await Promise.all([markPage(annPage), markPage(benPage)]);
    const framesBefore = { ann: annSockets.allReceived().length, ben: benSockets.allReceived().length };

    // The machine dies; the operator restores last night's backup.
    await s.kill('SIGKILL');
    fs.copyFileSync(backup, s.dbPath);
    for (const suffix of ['-wal', '-shm']) fs.rmSync(`${s.dbPath}${suffix}`, { force: true });
    await s.start();
    const restored = dbMessages(s.dbPath, id);
    const restoredBodies = restored.map((m) => m.body);
    expect(restoredBodies.slice(0, 3), 'the restored database').toEqual(['kept 1', 'kept 2', 'kept 3']);
    for (const body of answeredBeforeBackup) expect(restoredBodies, 'answered before the backup began').toContain(body);
    for (const body of ['lost 4', 'lost 5', 'lost 6']) expect(restoredBodies).not.toContain(body);

    const sent = await callServerFn(benPage.request, origin, 'send_message', {
      conversation_id: id,
      client_msg_id: `after-restore-${Date.now()}`,
      body: 'after restore',
    });
    expect(sent.status(), `send after the restore: ${await sent.text()}`).toBe(200);
    const after = (await sent.json()) as { id: string; seq: number };
    const reused = restored.length + 1;
    expect(after.seq, 'the new message takes a seq that was lost').toBe(reused);
    expect(after.id, 'with an id of its own').not.toBe(before[reused - 1].id);

    const final = dbMessages(s.dbPath, id);
    expect(final.map((m) => m.body)).toEqual([...restoredBodies, 'after restore']);
    const topic = `conversation:${id}`;
    for (const [name, page, sockets, seen] of [
      ['Ann', annPage, annSockets, framesBefore.ann],
      ['Ben', benPage, benSockets, framesBefore.ben],
    ] as const) {
      await expect
        .poll(() => sockets.allReceived().slice(seen).some((f) => f.type === 'reset' && f.topic === topic), {
          message: `${name}'s tab was told to reset ${topic}`,
          timeout: 45_000,
        })
        .toBe(true);
      await expect
        .poll(() => shownRows(page), { message: `${name}'s tab shows the restored history`, timeout: 30_000 })
        .toEqual(expectedRows(final));
      for (const lost of ['lost 4', 'lost 5', 'lost 6']) await expect(messageInLog(page, lost)).toHaveCount(0);
      await expect(messageInLog(page, 'after restore')).toHaveCount(1);
      await expect(pendingRows(page)).toHaveCount(0);
      expect(await wasNotReloaded(page), `${name}'s tab was not reloaded`).toBe(true);
    }
    expectNoPanic(s);
  } finally {
    await tabs.closeAll();
    await s.dispose();
  }
});
