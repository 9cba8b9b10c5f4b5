import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { APIResponse, Page } from '@playwright/test';
import {
  type NewAccount,
  type SocketFrame,
  SocketWatch,
  callServerFn,
  composer,
  expect,
  freshAccount,
  gotoHydrated,
  messageInLog,
  openDirectViaApi,
  signUpViaApi,
  test,
  typingIndicator,
} from '../fixtures';

// Server-level checks: Ann and Ben have a direct conversation; Eve, signed in but not a
// member, goes straight at the server functions and the WebSocket, the way a script
// (or a modified client) could.

type Message = { id: string; seq: number; body: string; sender_id: string };

type Setup = {
  ann: { account: NewAccount; page: Page };
  ben: { account: NewAccount; page: Page };
  eve: { account: NewAccount; page: Page };
  conversationId: string;
  secret: Message;
};

/** Ann, Ben and Eve signed up (through the server function); Ann has told Ben a secret. */
async function setUp(page: Page, newSessionPage: () => Promise<Page>, baseURL: string): Promise<Setup> {
  const ann = { account: freshAccount('ann_', 'Ann'), page: await newSessionPage() };
  const ben = { account: freshAccount('ben_', 'Ben'), page: await newSessionPage() };
  const eve = { account: freshAccount('eve_', 'Eve'), page };
  await Promise.all(
    [ann, ben, eve].map((p) => signUpViaApi(p.page.request, baseURL, p.account)),
  );
  const conversationId = await openDirectViaApi(ann.page.request, baseURL, ben.account);
  const sent = await callServerFn(ann.page.request, baseURL, 'send_message', {
    conversation_id: conversationId,
    client_msg_id: `secret-${conversationId.slice(-12)}`,
    body: `The secret for ${ben.account.username} is swordfish`,
  });
  expect(sent.status()).toBe(200);
  return { ann, ben, eve, conversationId, secret: (await sent.json()) as Message };
}

/** A refusal: the status, a JSON error body, and none of the conversation's content. */
async function expectRefused(response: APIResponse, status: number, what: string, secret?: string): Promise<void> {
  const text = await response.text();
  expect(response.status(), `${what}: ${text}`).toBe(status);
  expect(response.headers()['content-type'] ?? '', `${what}: content type`).toContain('json');
  expect(() => JSON.parse(text), `${what}: body is JSON`).not.toThrow();
  if (secret) expect(text, `${what}: body`).not.toContain(secret);
}

async function messagesAsSeenBy(page: Page, baseURL: string, conversationId: string): Promise<Message[]> {
  const response = await callServerFn(page.request, baseURL, 'messages', { conversation_id: conversationId });
  expect(response.status()).toBe(200);
  return (await response.json()) as Message[];
}

// ---------------------------------------------------------------------------
// A WebSocket of the test's own, opened inside a page (so it carries that page's cookie)
// ---------------------------------------------------------------------------

type Probe = { ws: WebSocket; frames: SocketFrame[] };

/** Opens `ws://<host>/ws` from the page and waits for the server's hello; returns it. */
async function openProbe(page: Page): Promise<SocketFrame> {
  return page.evaluate(
    () =>
      new Promise<SocketFrame>((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        const probe: Probe = { ws, frames: [] };
        (window as unknown as { __probe: Probe }).__probe = probe;
        ws.onmessage = (e) => {
          const frame = JSON.parse(String(e.data)) as SocketFrame;
          probe.frames.push(frame);
          if (frame.type === 'hello') resolve(frame);
        };
        ws.onclose = (e) => reject(new Error(`the probe socket closed (${e.code}) before hello`));
        setTimeout(() => reject(new Error('no hello within 10 s')), 10_000);
      }),
  );
}

async function probeSend(page: Page, frame: object): Promise<void> {
  await page.evaluate((f) => (window as unknown as { __probe: Probe }).__probe.ws.send(JSON.stringify(f)), frame);
}

async function probeFrames(page: Page): Promise<SocketFrame[]> {
  return page.evaluate(() => (window as unknown as { __probe: Probe }).__probe.frames);
}

/** Frames that carry anything of the conversation: events on its topic or about it. */
function aboutConversation(frames: SocketFrame[], conversationId: string): SocketFrame[] {
  return frames.filter((f) => {
    if (f.type === 'error') return false; // "You are not allowed to subscribe to conversation:<id>." names the id it refuses
    return JSON.stringify(f).includes(conversationId);
  });
}

// ---------------------------------------------------------------------------
// A raw WebSocket handshake from Node, with headers no browser would let a page choose
// ---------------------------------------------------------------------------

function upgradeStatus(baseURL: string, headers: Record<string, string>): Promise<number> {
  const url = new URL('/ws', baseURL);
  return new Promise((resolve, reject) => {
    const req = http.request({
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'GET',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer to the upgrade within 10 s')));
    req.end();
  });
}

async function cookieHeader(page: Page, baseURL: string): Promise<string> {
  const cookies = await page.context().cookies(baseURL);
  expect(cookies.map((c) => c.name), 'the session cookie').toContain('natter_session');
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

// ---------------------------------------------------------------------------

test('a non-member cannot read a conversation', async ({ page, newSessionPage, baseURL }) => {
  const { ann, eve, conversationId, secret } = await setUp(page, newSessionPage, baseURL!);
  const secretText = 'swordfish';

  await expectRefused(
    await callServerFn(eve.page.request, baseURL!, 'messages', { conversation_id: conversationId }),
    403,
    'messages',
    secretText,
  );
  await expectRefused(
    await callServerFn(eve.page.request, baseURL!, 'messages', { conversation_id: conversationId, before_seq: 1000 }),
    403,
    'messages before_seq',
    secretText,
  );
  await expectRefused(
    await callServerFn(eve.page.request, baseURL!, 'messages_after', { conversation_id: conversationId, after_seq: 0 }),
    403,
    'messages_after',
    secretText,
  );
  // Nor does it show up in her list.
  const list = await callServerFn(eve.page.request, baseURL!, 'conversations', {});
  expect(list.status()).toBe(200);
  expect(await list.text()).not.toContain(conversationId);

  // Control: a member reads it with the same request.
  expect((await messagesAsSeenBy(ann.page, baseURL!, conversationId)).map((m) => m.id)).toEqual([secret.id]);
});

test('a non-member cannot send into a conversation', async ({ page, newSessionPage, baseURL }) => {
  const { ann, ben, eve, conversationId, secret } = await setUp(page, newSessionPage, baseURL!);

  await expectRefused(
    await callServerFn(eve.page.request, baseURL!, 'send_message', {
      conversation_id: conversationId,
      client_msg_id: `eve-${conversationId.slice(-12)}`,
      body: 'Eve was here',
    }),
    403,
    'send_message',
  );

  // Neither member's history has it.
  for (const member of [ann, ben]) {
    const history = await messagesAsSeenBy(member.page, baseURL!, conversationId);
    expect(history.map((m) => m.body), `${member.account.username}'s history`).toEqual([secret.body]);
  }
  // Nor does the app show it.
  await gotoHydrated(ben.page, `/c/${conversationId}`);
  await expect(messageInLog(ben.page, secret.body)).toBeVisible();
  await expect(messageInLog(ben.page, 'Eve was here')).toHaveCount(0);
});

test('a non-member cannot mark a conversation read', async ({ page, newSessionPage, baseURL }) => {
  const { ann, ben, eve, conversationId } = await setUp(page, newSessionPage, baseURL!);

  await expectRefused(
    await callServerFn(eve.page.request, baseURL!, 'mark_read', { conversation_id: conversationId, seq: 1 }),
    403,
    'mark_read',
  );

  // The members are still the two of them, and Ben has still read nothing.
  const members = await callServerFn(ann.page.request, baseURL!, 'members', { conversation_id: conversationId });
  expect(members.status()).toBe(200);
  const list = (await members.json()) as { user: { username: string }; last_read_seq: number }[];
  expect(list.map((m) => m.user.username).sort()).toEqual([ann.account.username, ben.account.username].sort());
  expect(list.find((m) => m.user.username === ben.account.username)?.last_read_seq).toBe(0);
});

test('a non-member cannot list a conversation’s members', async ({ page, newSessionPage, baseURL }) => {
  const { ann, ben, eve, conversationId } = await setUp(page, newSessionPage, baseURL!);

  const response = await callServerFn(eve.page.request, baseURL!, 'members', { conversation_id: conversationId });
  await expectRefused(response, 403, 'members', ann.account.username);
  expect(await response.text()).not.toContain(ben.account.username);
});

test('a non-member cannot subscribe to a conversation over the WebSocket', async ({
  page,
  newSessionPage,
  baseURL,
}) => {
  const { eve, conversationId } = await setUp(page, newSessionPage, baseURL!);
  await gotoHydrated(eve.page, '/');
  const hello = await openProbe(eve.page);
  expect(hello.user_id, 'hello names Eve’s user id').toEqual(expect.any(String));

  const topic = `conversation:${conversationId}`;
  await probeSend(eve.page, { type: 'subscribe', topic });
  await expect
    .poll(() => probeFrames(eve.page))
    .toContainEqual(expect.objectContaining({ type: 'error', code: 'forbidden' }));
  // Typing there is refused too: she never got in.
  const before = (await probeFrames(eve.page)).length;
  await probeSend(eve.page, { type: 'typing', conversation_id: conversationId, active: true });
  await expect
    .poll(async () => (await probeFrames(eve.page)).slice(before))
    .toContainEqual(expect.objectContaining({ type: 'error', code: 'forbidden' }));

  // Control: the same socket may subscribe to her own user topic.
  await probeSend(eve.page, { type: 'subscribe', topic: `user:${hello.user_id}` });
  await expect
    .poll(() => probeFrames(eve.page))
    .toContainEqual({ type: 'subscribed', topic: `user:${hello.user_id}` });
  expect((await probeFrames(eve.page)).filter((f) => f.type === 'subscribed' && f.topic === topic)).toEqual([]);
});

test('a non-member receives no typing or messages of a conversation', async ({ page, newSessionPage, baseURL }) => {
  // Three browsers running the app.
  test.slow();
  const { ann, ben, eve, conversationId } = await setUp(page, newSessionPage, baseURL!);
  // Everything Eve's page hears, on the app's own socket and on the probe.
  const eveSockets = new SocketWatch(eve.page);
  const annSockets = new SocketWatch(ann.page);
  const benSockets = new SocketWatch(ben.page);
  await Promise.all([
    gotoHydrated(eve.page, '/'),
    gotoHydrated(ann.page, `/c/${conversationId}`),
    gotoHydrated(ben.page, `/c/${conversationId}`),
  ]);
  // Eve's app socket too is connected before anything is said: a socket that connects only
  // afterwards hears nothing of it whatever the server does, and proves nothing.
  await Promise.all([
    annSockets.waitForSubscribed(conversationId),
    benSockets.waitForSubscribed(conversationId),
    eveSockets.waitForConnected(),
  ]);

  const hello = await openProbe(eve.page);
  const eveTopic = `user:${hello.user_id}`;
  await probeSend(eve.page, { type: 'subscribe', topic: `conversation:${conversationId}` });
  await expect
    .poll(() => probeFrames(eve.page))
    .toContainEqual(expect.objectContaining({ type: 'error', code: 'forbidden' }));

  // Ann types and sends; Ben sees both (so the events were sent out).
  await composer(ann.page).fill('For Ben only');
  await expect(typingIndicator(ben.page, ann.account.displayName)).toHaveText(`${ann.account.displayName} is typing…`);
  await composer(ann.page).press('Enter');
  await expect(messageInLog(ben.page, 'For Ben only')).toBeVisible();
  // And a message sent through the server function straight away.
  const sent = await callServerFn(ann.page.request, baseURL!, 'send_message', {
    conversation_id: conversationId,
    client_msg_id: `direct-${conversationId.slice(-12)}`,
    body: 'Also for Ben only',
  });
  expect(sent.status()).toBe(200);
  await expect(messageInLog(ben.page, 'Also for Ben only')).toBeVisible();

  // Whatever the server sent Eve's sockets before now has reached them once they have
  // what it sends them next: an event on her own topic (Eve marks everything read; the
  // frames of one connection arrive in order). Then nothing of the conversation may be
  // among what they got.
  const heardBefore = eveSockets.sockets.map((socket) => socket.received.length);
  const read = await callServerFn(eve.page.request, baseURL!, 'all_read', {});
  expect(read.status(), `all_read: ${await read.text()}`).toBe(200);
  await expect
    .poll(
      () =>
        eveSockets.sockets.every(
          (socket, i) => socket.closed || socket.received.slice(heardBefore[i] ?? 0).some((f) => f.topic === eveTopic),
        ),
      { message: "each of Eve's open sockets heard an event on her own topic" },
    )
    .toBe(true);
  await expect
    .poll(async () => (await probeFrames(eve.page)).some((f) => f.type === 'event' && f.topic === eveTopic), {
      message: "the probe's page got the event on Eve's own topic",
    })
    .toBe(true);
  // The watch works: it heard the app's own socket say hello.
  expect(eveSockets.allReceived()).toContainEqual(expect.objectContaining({ type: 'hello' }));
  expect(aboutConversation(await probeFrames(eve.page), conversationId), 'frames on Eve’s probe socket').toEqual([]);
  expect(aboutConversation(eveSockets.allReceived(), conversationId), 'frames on Eve’s sockets').toEqual([]);
  expect(JSON.stringify(eveSockets.allReceived())).not.toContain('for Ben only');
  expect(JSON.stringify(await probeFrames(eve.page))).not.toContain('for Ben only');
});

test('a cross-origin WebSocket upgrade is refused', async ({ page, baseURL }) => {
  const eve = freshAccount('eve_', 'Eve');
  await signUpViaApi(page.request, baseURL!, eve);
  const cookie = await cookieHeader(page, baseURL!);

  expect(await upgradeStatus(baseURL!, { Origin: 'http://evil.example', Cookie: cookie }), 'foreign Origin').toBe(
    403,
  );
  expect(
    await upgradeStatus(baseURL!, { Origin: `${new URL(baseURL!).origin}.evil.example`, Cookie: cookie }),
    'look-alike Origin',
  ).toBe(403);
  // Control: the same cookie from the site's own origin is upgraded.
  expect(await upgradeStatus(baseURL!, { Origin: new URL(baseURL!).origin, Cookie: cookie }), 'own Origin').toBe(101);
});

test('a WebSocket upgrade without a session is refused', async ({ baseURL }) => {
  expect(await upgradeStatus(baseURL!, { Origin: new URL(baseURL!).origin }), 'no cookie').toBe(401);
  expect(
    await upgradeStatus(baseURL!, { Origin: new URL(baseURL!).origin, Cookie: 'natter_session=forged-value' }),
    'a made-up session cookie',
  ).toBe(401);
});

test('a logged-out request gets 401 on /api/send_message', async ({ request, page, newSessionPage, baseURL }) => {
  const { conversationId } = await setUp(page, newSessionPage, baseURL!);

  await expectRefused(
    await callServerFn(request, baseURL!, 'send_message', {
      conversation_id: conversationId,
      client_msg_id: `anon-${conversationId.slice(-12)}`,
      body: 'Who am I?',
    }),
    401,
    'send_message',
  );
  await expectRefused(
    await callServerFn(request, baseURL!, 'messages', { conversation_id: conversationId }),
    401,
    'messages',
    'swordfish',
  );
});
