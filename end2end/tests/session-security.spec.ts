import type { APIRequestContext, APIResponse, BrowserContext, Page } from '@playwright/test';
import {
  type NewAccount,
  SocketWatch,
  callServerFn,
  chatWindow,
  conversations,
  expect,
  freshAccount,
  gotoHydrated,
  header,
  logIn,
  messageInLog,
  messageLog,
  signUp,
  signUpViaApi,
  test,
  expectRefused,
} from '../fixtures';
import { type JsonFrame, OpenedSockets, RawSocket, sessionId, sessionToken } from '../raw-socket';
import { sqlite } from '../server-control';

// Sessions and who may do what, at the server's edges: logging out, expiry, blocked
// accounts, non-members, requests that did not come from the site, and hostile text.
// Everything here talks to the real server: server functions by HTTP, the WebSocket by a
// raw client (raw-socket.ts) or the app's own socket in a real page.

const MADE_UP_ID = '01900000-0000-7000-8000-000000000000';

/** Every raw socket a test opens, dropped after it. */
const opened = new OpenedSockets();
test.afterEach(() => opened.destroyAll());
const rawSocket = (context: BrowserContext, baseURL: string) => opened.open(context, baseURL);
const tryUpgrade = (context: BrowserContext, baseURL: string) => opened.tryUpgrade(context, baseURL);

type User = { id: string; username: string; display_name: string };
type Message = { id: string; seq: number; body: string; sender_id: string };
type Member = { user: User; last_read_seq: number };
type Call = { id: string; state: string };

async function me(request: APIRequestContext, baseURL: string): Promise<User> {
  const response = await callServerFn(request, baseURL, 'current_user', {});
  expect(response.status()).toBe(200);
  const user = (await response.json()) as User | null;
  expect(user, 'current_user').not.toBeNull();
  return user!;
}

/** Signs up through the server function in `page`'s context; returns the account and its user. */
async function person(page: Page, baseURL: string, prefix: string, label: string) {
  const account = freshAccount(prefix, label);
  await signUpViaApi(page.request, baseURL, account);
  return { account, page, user: await me(page.request, baseURL) };
}
type Person = Awaited<ReturnType<typeof person>>;

async function ok(response: APIResponse, what: string): Promise<unknown> {
  const text = await response.text();
  expect(response.status(), `${what}: ${text}`).toBe(200);
  return JSON.parse(text) as unknown;
}

async function openDirect(from: Person, to: Person, baseURL: string): Promise<string> {
  return (await ok(
    await callServerFn(from.page.request, baseURL, 'open_direct', { user_id: to.user.id }),
    'open_direct',
  )) as string;
}

async function createGroup(owner: Person, baseURL: string, title: string, members: Person[]): Promise<string> {
  const form: Record<string, string> = { title };
  members.forEach((m, i) => (form[`member_ids[${i}]`] = m.user.id));
  return (await ok(await callServerFn(owner.page.request, baseURL, 'create_group', form), 'create_group')) as string;
}

async function send(from: Person, baseURL: string, conversationId: string, body: string): Promise<Message> {
  return (await ok(
    await callServerFn(from.page.request, baseURL, 'send_message', {
      conversation_id: conversationId,
      client_msg_id: `m-${Math.random().toString(36).slice(2, 12)}`,
      body,
    }),
    `send_message ${body}`,
  )) as Message;
}

async function messagesOf(who: Person, baseURL: string, conversationId: string): Promise<Message[]> {
  return (await ok(
    await callServerFn(who.page.request, baseURL, 'messages', { conversation_id: conversationId }),
    'messages',
  )) as Message[];
}

async function membersOf(who: Person, baseURL: string, conversationId: string): Promise<Member[]> {
  return (await ok(
    await callServerFn(who.page.request, baseURL, 'members', { conversation_id: conversationId }),
    'members',
  )) as Member[];
}

async function conversationIdsOf(who: Person, baseURL: string): Promise<string[]> {
  const list = (await ok(await callServerFn(who.page.request, baseURL, 'conversations', {}), 'conversations')) as {
    id: string;
  }[];
  return list.map((c) => c.id).sort();
}

function eventsOf(socket: RawSocket, kind: string): Record<string, unknown>[] {
  return socket
    .json()
    .filter((f) => f.type === 'event' && (f.event as { kind?: string }).kind === kind)
    .map((f) => f.event as Record<string, unknown>);
}

// ---------------------------------------------------------------------------

test('logging out closes that session’s sockets and no other session’s', async ({
  page,
  newSessionPage,
  baseURL,
  allowConsoleErrors,
}) => {
  // The logged-out page may still ask for its list before it reaches the login page.
  allowConsoleErrors(/status of 401 \(Unauthorized\)/);
  // Ann in two browsers (two sessions), Ben in a third.
  const ann: NewAccount = freshAccount('ann_', 'Ann');
  const secondPage = await newSessionPage();
  const benPage = await newSessionPage();
  const recordCloses = () => {
    const Native = window.WebSocket;
    class Recorded extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener('close', (e) => {
          const log = JSON.parse(sessionStorage.getItem('__wsCloses') ?? '[]') as unknown[];
          log.push({ url: String(url), code: e.code, reason: e.reason });
          sessionStorage.setItem('__wsCloses', JSON.stringify(log));
        });
      }
    }
    window.WebSocket = Recorded;
  };
  await page.context().addInitScript(recordCloses);
  await secondPage.context().addInitScript(recordCloses);
  const closesOf = (p: Page) =>
    p.evaluate(() => JSON.parse(sessionStorage.getItem('__wsCloses') ?? '[]') as { url: string; code: number }[]);

  await signUp(page, ann);
  await logIn(secondPage, ann.username, ann.password);
  const annFirst: Person = { account: ann, page, user: await me(page.request, baseURL!) };
  const ben = await person(benPage, baseURL!, 'ben_', 'Ben');
  const conversationId = await openDirect(ben, annFirst, baseURL!);
  const topic = `conversation:${conversationId}`;

  // Both of Ann's browsers show the conversation, live.
  const firstWatch = new SocketWatch(page);
  const secondWatch = new SocketWatch(secondPage);
  await Promise.all([gotoHydrated(page, `/c/${conversationId}`), gotoHydrated(secondPage, `/c/${conversationId}`)]);
  await Promise.all([firstWatch.waitForSubscribed(conversationId), secondWatch.waitForSubscribed(conversationId)]);
  // And a raw socket of each session.
  const { socket: rawFirst } = await rawSocket(page.context(), baseURL!);
  const { socket: rawSecond } = await rawSocket(secondPage.context(), baseURL!);
  for (const socket of [rawFirst, rawSecond]) {
    socket.sendJson({ type: 'subscribe', topic });
    await socket.waitForJson((f) => f.type === 'subscribed' && f.topic === topic);
  }

  // Only what happens from here on counts (loading pages closed earlier sockets).
  for (const p of [page, secondPage]) await p.evaluate(() => sessionStorage.removeItem('__wsCloses'));

  // The first browser's session logs out (the server function, as another tab of it would).
  await ok(await callServerFn(page.request, baseURL!, 'logout', {}), 'logout');

  expect(await rawFirst.waitForClose()).toEqual({ code: 4001, reason: 'logged out' });
  // The page's own socket was closed with 4001 too, and the app went to the login page.
  await expect(page).toHaveURL(/\/login$/, { timeout: 15_000 });
  expect((await closesOf(page)).filter((c) => new URL(c.url).pathname === '/ws').map((c) => c.code)).toEqual([4001]);
  await expectRefused(await callServerFn(page.request, baseURL!, 'conversations', {}), 401, 'the first session after logout');

  // The second session is untouched: its sockets stay open and still hear new messages.
  await send(ben, baseURL!, conversationId, 'Still there, second browser?');
  await expect(messageInLog(secondPage, 'Still there, second browser?')).toBeVisible();
  await rawSecond.waitForJson(
    (f) =>
      f.type === 'event' &&
      (f.event as { kind: string }).kind === 'message_created' &&
      (f.event as { message: Message }).message.body === 'Still there, second browser?',
  );
  expect(rawSecond.open, 'the second session’s raw socket').toBe(true);
  expect(await rawSecond.roundTrip()).toEqual([{ type: 'pong' }]);
  expect(await closesOf(secondPage), 'sockets closed in the second browser').toEqual([]);
  expect(secondWatch.sockets.filter((s) => s.closed), 'the second browser’s app socket').toEqual([]);
  await expect(secondPage).toHaveURL(new RegExp(`/c/${conversationId}$`));
  expect((await me(secondPage.request, baseURL!)).username).toBe(ann.username);
});

test('an expired session cannot upgrade and its open socket is closed at the next frame', async ({
  page,
  server,
  baseURL,
}) => {
  const eve = await person(page, baseURL!, 'eve_', 'Eve');
  const { socket, hello } = await rawSocket(page.context(), baseURL!);
  expect(hello.user_id).toBe(eve.user.id);

  // The database's id of the session is the SHA-256 of the cookie's token.
  const id = sessionId(await sessionToken(page.context(), baseURL!));
  const changed = sqlite(
    server.dbPath,
    `c = sqlite3.connect(db)\n` +
      `n = c.execute("UPDATE sessions SET expires_at = 1 WHERE id = ?", (${JSON.stringify(id)},)).rowcount\n` +
      `c.commit()\nprint(n)`,
  );
  expect(changed.trim(), 'sessions expired').toBe('1');

  // The next frame that does something finds the session over.
  socket.sendJson({ type: 'subscribe', topic: `user:${eve.user.id}` });
  expect(await socket.waitForClose()).toEqual({ code: 4001, reason: 'session ended' });
  expect(socket.json().filter((f) => f.type === 'subscribed'), 'frames answered after expiry').toEqual([]);

  // The same cookie cannot open a new socket...
  const again = await tryUpgrade(page.context(), baseURL!);
  expect(again.status, 'upgrade with an expired session').toBe(401);
  expect(again.body).toBe('Please log in.');
  // ...nor call a server function.
  const calls: [string, Record<string, string | number>][] = [
    ['conversations', {}],
    ['search_users', { query: 'ann' }],
    ['messages', { conversation_id: MADE_UP_ID }],
    ['send_message', { conversation_id: MADE_UP_ID, client_msg_id: 'expired-1', body: 'hello?' }],
    ['call_options', {}],
  ];
  for (const [name, form] of calls) {
    const body = await expectRefused(await callServerFn(page.request, baseURL!, name, form), 401, `${name} expired`);
    expect(JSON.parse(body)).toBe('Unauthorized');
  }
  // Who am I? Nobody.
  const who = await callServerFn(page.request, baseURL!, 'current_user', {});
  expect(who.status()).toBe(200);
  expect(await who.json()).toBeNull();
});

test('a blocked user is refused by every server function and every WebSocket frame type', async ({
  page,
  newSessionPage,
  server,
  baseURL,
}) => {
  const eve = await person(page, baseURL!, 'eve_', 'Eve');
  const ann = await person(await newSessionPage(), baseURL!, 'ann_', 'Ann');
  const cat = await person(await newSessionPage(), baseURL!, 'cat_', 'Cat');
  const direct = await openDirect(eve, ann, baseURL!);
  const group = await createGroup(eve, baseURL!, `Eve’s group ${eve.account.username}`, [ann]);
  const hi = await send(ann, baseURL!, direct, 'Hi Eve');
  const directTopic = `conversation:${direct}`;

  // Ann listens on the direct conversation.
  const { socket: annSocket, hello: annHello } = await rawSocket(ann.page.context(), baseURL!);
  annSocket.sendJson({ type: 'subscribe', topic: directTopic });
  await annSocket.waitForJson((f) => f.type === 'subscribed');

  // Eve has a socket open for each kind of frame she will try (those that need it are
  // subscribed to the conversation already), and one for a ping.
  const kinds = ['subscribe', 'resume', 'unsubscribe', 'typing', 'presence', 'call_signal', 'ping'] as const;
  const eveSockets = {} as Record<(typeof kinds)[number], RawSocket>;
  for (const kind of kinds) {
    const { socket } = await rawSocket(eve.page.context(), baseURL!);
    eveSockets[kind] = socket;
  }
  for (const kind of ['unsubscribe', 'typing'] as const) {
    const socket = eveSockets[kind];
    socket.sendJson({ type: 'subscribe', topic: directTopic });
    await socket.waitForJson((f) => f.type === 'subscribed');
  }
  const eveConnection = eveSockets.call_signal.json()[0].connection_id as number;
  // Ann rings Eve, so that there is a real call to answer.
  const ticket = (await ok(
    await callServerFn(ann.page.request, baseURL!, 'start_call', {
      conversation_id: direct,
      media: 'audio',
      connection_id: annHello.connection_id as number,
    }),
    'Ann rings Eve',
  )) as { call: Call };
  expect(ticket.call.state).toBe('ringing');
  const callId = ticket.call.id;

  // Eve is blocked.
  const changed = sqlite(
    server.dbPath,
    `c = sqlite3.connect(db)\n` +
      `n = c.execute("UPDATE users SET blocked_at = ? WHERE id = ?", (int(time.time() * 1000), ${JSON.stringify(eve.user.id)})).rowcount\n` +
      `c.commit()\nprint(n)`,
  );
  expect(changed.trim(), 'users blocked').toBe('1');

  // A ping is answered without a session check (it is how the client notices a dead line).
  expect(
    (await eveSockets.ping.roundTrip()).filter((f) => f.type !== 'event'),
    'a ping after the block',
  ).toEqual([{ type: 'pong' }]);

  // Every server function that needs a session refuses her as logged out.
  const functions: [string, Record<string, string | number>][] = [
    ['conversations', {}],
    ['search_users', { query: ann.account.username }],
    ['open_direct', { user_id: cat.user.id }],
    ['create_group', { title: 'Eve again', 'member_ids[0]': ann.user.id }],
    ['add_member', { conversation_id: group, user_id: cat.user.id }],
    ['remove_member', { conversation_id: group, user_id: ann.user.id }],
    ['send_message', { conversation_id: direct, client_msg_id: 'blocked-eve-1', body: 'I am blocked' }],
    ['messages', { conversation_id: direct }],
    ['messages_after', { conversation_id: direct, after_seq: 0 }],
    ['mark_read', { conversation_id: direct, seq: hi.seq }],
    ['members', { conversation_id: direct }],
    ['call_options', {}],
    ['start_call', { conversation_id: direct, media: 'audio', connection_id: eveConnection }],
    ['answer_call', { call_id: callId, connection_id: eveConnection }],
    ['decline_call', { call_id: callId }],
    ['hang_up', { call_id: callId }],
  ];
  for (const [name, form] of functions) {
    const body = await expectRefused(await callServerFn(eve.page.request, baseURL!, name, form), 401, `blocked ${name}`);
    expect(JSON.parse(body), `blocked ${name}`).toBe('Unauthorized');
  }
  const who = await callServerFn(eve.page.request, baseURL!, 'current_user', {});
  expect(who.status()).toBe(200);
  expect(await who.json(), 'current_user of a blocked session').toBeNull();
  // Logging in again is refused too, and starts no session.
  const login = await callServerFn(eve.page.request, baseURL!, 'login', {
    username: eve.account.username,
    password: eve.account.password,
  });
  expect(login.status()).toBe(403);
  expect(await login.json()).toBe('AccountBlocked');
  expect(login.headersArray().filter((h) => /set-cookie/i.test(h.name) && h.value.includes('natter_session='))).toEqual([]);

  // Each frame type on her open sockets closes that socket with 4001, unanswered.
  const frames: Record<Exclude<(typeof kinds)[number], 'ping'>, object> = {
    subscribe: { type: 'subscribe', topic: `conversation:${group}` },
    resume: { type: 'subscribe', topic: directTopic, resume: { seq: hi.seq, message_id: hi.id } },
    unsubscribe: { type: 'unsubscribe', topic: directTopic },
    typing: { type: 'typing', conversation_id: direct, active: true },
    presence: { type: 'presence', state: 'online' },
    call_signal: { type: 'call_signal', call_id: callId, signal: { kind: 'answer', sdp: 'v=0\r\n' } },
  };
  for (const [kind, frame] of Object.entries(frames) as [keyof typeof frames, object][]) {
    const socket = eveSockets[kind];
    expect(socket.closeFrame, `${kind} socket before its frame`).toBeUndefined();
    const before = socket.texts.length;
    socket.sendJson(frame);
    expect(await socket.waitForClose(), `${kind} socket after its frame`).toEqual({ code: 4001, reason: 'session ended' });
    expect(
      socket
        .json()
        .slice(before)
        .filter((f) => f.type !== 'event'),
      `frames answered to ${kind}`,
    ).toEqual([]);
  }
  // And she cannot open a new one.
  const again = await tryUpgrade(eve.page.context(), baseURL!);
  expect(again.status, 'upgrade of a blocked user').toBe(401);

  // Ann heard nothing from Eve: no typing, no message, no answer to her call.
  await annSocket.roundTrip();
  expect(eventsOf(annSocket, 'typing'), 'typing Ann saw').toEqual([]);
  expect(eventsOf(annSocket, 'message_created'), 'messages Ann saw').toEqual([]);
  expect(eventsOf(annSocket, 'call_signal'), 'signals Ann saw').toEqual([]);
  expect(
    eventsOf(annSocket, 'call').map((e) => (e.call as Call).state),
    'what Ann heard of her call',
  ).not.toContain('active');
  expect((await messagesOf(ann, baseURL!, direct)).map((m) => m.body)).toEqual(['Hi Eve']);
  expect((await membersOf(ann, baseURL!, group)).map((m) => m.user.id).sort()).toEqual([ann.user.id, eve.user.id].sort());
});

test('a non-member is refused by every server function that names a conversation and every frame type', async ({
  page,
  newSessionPage,
  baseURL,
}) => {
  const mallory = await person(page, baseURL!, 'mal_', 'Mallory');
  const ann = await person(await newSessionPage(), baseURL!, 'ann_', 'Ann');
  const ben = await person(await newSessionPage(), baseURL!, 'ben_', 'Ben');
  const direct = await openDirect(ann, ben, baseURL!);
  const group = await createGroup(ann, baseURL!, `Ann and Ben ${ann.account.username}`, [ben]);
  const first = await send(ann, baseURL!, group, 'Group secret: the cake is in the fridge');
  await send(ann, baseURL!, direct, 'Direct secret: the key is under the mat');
  const { socket: malSocket, hello: malHello } = await rawSocket(mallory.page.context(), baseURL!);

  // The same request with the real id and with an id that exists nowhere: same answer.
  const attempts: [string, (conversationId: string) => Record<string, string | number>][] = [
    ['send_message', (id) => ({ conversation_id: id, client_msg_id: `mal-${id.slice(-8)}`, body: 'Mallory was here' })],
    ['messages', (id) => ({ conversation_id: id })],
    ['messages', (id) => ({ conversation_id: id, before_seq: 100 })],
    ['messages_after', (id) => ({ conversation_id: id, after_seq: 0 })],
    ['mark_read', (id) => ({ conversation_id: id, seq: 1 })],
    ['members', (id) => ({ conversation_id: id })],
    ['add_member', (id) => ({ conversation_id: id, user_id: mallory.user.id })],
    ['remove_member', (id) => ({ conversation_id: id, user_id: ben.user.id })],
    ['start_call', (id) => ({ conversation_id: id, media: 'audio', connection_id: malHello.connection_id as number })],
  ];
  for (const conversationId of [group, direct]) {
    for (const [name, form] of attempts) {
      const what = `Mallory's ${name} on ${conversationId === group ? 'the group' : 'the direct conversation'}`;
      const real = await expectRefused(
        await callServerFn(mallory.page.request, baseURL!, name, form(conversationId)),
        403,
        what,
      );
      expect(JSON.parse(real), what).toBe('Forbidden');
      const madeUp = await expectRefused(
        await callServerFn(mallory.page.request, baseURL!, name, form(MADE_UP_ID)),
        403,
        `${what} (made-up id)`,
      );
      expect(real, `${what}: same answer as for a conversation that does not exist`).toBe(madeUp);
    }
  }

  // Ann and Ben listen on the group.
  const groupTopic = `conversation:${group}`;
  const { socket: annSocket } = await rawSocket(ann.page.context(), baseURL!);
  const { socket: benSocket } = await rawSocket(ben.page.context(), baseURL!);
  for (const socket of [annSocket, benSocket]) {
    socket.sendJson({ type: 'subscribe', topic: groupTopic });
    await socket.waitForJson((f) => f.type === 'subscribed' && f.topic === groupTopic);
  }

  // Every frame type Mallory could aim at the group.
  const forbidden = (message: string) => ({ type: 'error', code: 'forbidden', message });
  const notAllowed = forbidden(`You are not allowed to subscribe to ${groupTopic}.`);
  const cases: [string, object, JsonFrame[]][] = [
    ['subscribe', { type: 'subscribe', topic: groupTopic }, [notAllowed]],
    [
      'subscribe with a resume naming a real message',
      { type: 'subscribe', topic: groupTopic, resume: { seq: first.seq, message_id: first.id } },
      [notAllowed],
    ],
    ['typing', { type: 'typing', conversation_id: group, active: true }, [forbidden('You can only type in conversations you have open.')]],
    ['unsubscribe', { type: 'unsubscribe', topic: groupTopic }, []],
    [
      'call_signal',
      { type: 'call_signal', call_id: MADE_UP_ID, signal: { kind: 'offer', sdp: 'v=0\r\n' } },
      [forbidden('You are not in that call.')],
    ],
  ];
  for (const [what, frame, expected] of cases) {
    const from = malSocket.texts.length;
    malSocket.sendJson(frame);
    await malSocket.roundTrip();
    expect(
      malSocket
        .json()
        .slice(from)
        .filter((f) => f.type !== 'pong'),
      `the answer to Mallory's ${what}`,
    ).toEqual(expected);
  }
  expect(malSocket.open, 'Mallory’s socket (refusals do not close it)').toBe(true);

  // The group goes on without her: a message reaches Ann and Ben and not Mallory.
  await send(ann, baseURL!, group, 'Another group secret');
  for (const socket of [benSocket]) {
    await socket.waitForJson(
      (f) => f.type === 'event' && (f.event as { message?: Message }).message?.body === 'Another group secret',
    );
  }
  await malSocket.roundTrip();
  await annSocket.roundTrip();
  await benSocket.roundTrip();
  // (Her refusals name the topic she asked for; nothing else may mention the group.)
  const heard = JSON.stringify(malSocket.json().filter((f) => f.type !== 'error'));
  expect(heard, 'what Mallory’s socket heard').not.toContain(group);
  expect(heard).not.toContain('secret');
  expect(malSocket.json().filter((f) => f.type === 'event'), 'events on Mallory’s socket').toEqual([]);
  for (const socket of [annSocket, benSocket]) {
    expect(eventsOf(socket, 'typing'), 'typing heard in the group').toEqual([]);
    expect(
      eventsOf(socket, 'message_created').map((e) => (e.message as Message).sender_id),
      'senders of the messages heard',
    ).toEqual([ann.user.id]);
  }
  // Nothing she tried changed anything.
  expect((await membersOf(ann, baseURL!, group)).map((m) => m.user.id).sort()).toEqual([ann.user.id, ben.user.id].sort());
  expect((await membersOf(ann, baseURL!, group)).find((m) => m.user.id === ben.user.id)?.last_read_seq).toBe(0);
  expect((await messagesOf(ben, baseURL!, group)).map((m) => m.sender_id)).toEqual([ann.user.id, ann.user.id]);
  expect((await messagesOf(ben, baseURL!, direct)).map((m) => m.sender_id)).toEqual([ann.user.id]);
  expect(await conversationIdsOf(mallory, baseURL!)).toEqual([]);
});

test('state-changing server functions refuse GET and cross-origin requests', async ({
  page,
  newSessionPage,
  playwright,
  baseURL,
}) => {
  test.setTimeout(90_000);
  const ann = await person(page, baseURL!, 'ann_', 'Ann');
  const ben = await person(await newSessionPage(), baseURL!, 'ben_', 'Ben');
  const cat = await person(await newSessionPage(), baseURL!, 'cat_', 'Cat');
  const direct = await openDirect(ann, ben, baseURL!);
  const group = await createGroup(ann, baseURL!, `Ann’s group ${ann.account.username}`, [ben]);
  const hello = await send(ann, baseURL!, direct, 'Hello Ben');
  const catDirect = await openDirect(cat, ann, baseURL!);
  const sockets = {
    ann: (await rawSocket(ann.page.context(), baseURL!)).socket,
    ben: (await rawSocket(ben.page.context(), baseURL!)).socket,
    cat: (await rawSocket(cat.page.context(), baseURL!)).socket,
  };
  const connectionOf = (s: RawSocket) => s.json()[0].connection_id as number;
  // A ringing call from Ann to Ben, for the call functions to act on.
  const ticket = (await ok(
    await callServerFn(ann.page.request, baseURL!, 'start_call', {
      conversation_id: direct,
      media: 'audio',
      connection_id: connectionOf(sockets.ann),
    }),
    'Ann rings Ben',
  )) as { call: Call };
  const callId = ticket.call.id;
  await sockets.ben.waitForJson((f) => f.type === 'event' && (f.event as { kind: string }).kind === 'call');
  // Someone without a session, for signup and login.
  const visitor = await playwright.request.newContext({ baseURL });
  const newName = freshAccount('forged_', 'Forged');

  const conversationsBefore = {
    ann: await conversationIdsOf(ann, baseURL!),
    ben: await conversationIdsOf(ben, baseURL!),
    cat: await conversationIdsOf(cat, baseURL!),
  };

  // Each function, asked by the person it would act for, with arguments that would work.
  const table: [string, APIRequestContext, Record<string, string>][] = [
    ['logout', ann.page.request, {}],
    ['send_message', ann.page.request, { conversation_id: direct, client_msg_id: 'forged-send-1', body: 'Forged' }],
    ['mark_read', ben.page.request, { conversation_id: direct, seq: String(hello.seq) }],
    ['open_direct', ben.page.request, { user_id: cat.user.id }],
    ['create_group', ann.page.request, { title: 'Forged group', 'member_ids[0]': ben.user.id }],
    ['add_member', ann.page.request, { conversation_id: group, user_id: cat.user.id }],
    ['remove_member', ann.page.request, { conversation_id: group, user_id: ben.user.id }],
    ['start_call', cat.page.request, { conversation_id: catDirect, media: 'audio', connection_id: String(connectionOf(sockets.cat)) }],
    ['answer_call', ben.page.request, { call_id: callId, connection_id: String(connectionOf(sockets.ben)) }],
    ['decline_call', ben.page.request, { call_id: callId }],
    ['hang_up', ann.page.request, { call_id: callId }],
    ['signup', visitor, { username: newName.username, display_name: newName.displayName, password: newName.password }],
    ['login', visitor, { username: ann.account.username, password: ann.account.password }],
  ];
  const origin = new URL(baseURL!).origin;
  const noSessionStarted = (response: APIResponse, what: string) =>
    expect(
      response.headersArray().filter((h) => /set-cookie/i.test(h.name) && h.value.includes('natter_session=')),
      `${what}: Set-Cookie`,
    ).toEqual([]);

  for (const [name, request, form] of table) {
    const get = await request.get(`/api/${name}?${new URLSearchParams(form)}`, { maxRedirects: 0 });
    expect(get.status(), `GET /api/${name}: ${await get.text()}`).toBe(405);
    noSessionStarted(get, `GET ${name}`);

    const foreign = await request.post(`/api/${name}`, {
      form,
      headers: { Origin: 'http://evil.example' },
      maxRedirects: 0,
    });
    expect(JSON.parse(await expectRefused(foreign, 403, `POST ${name} from http://evil.example`))).toBe('Forbidden');
    noSessionStarted(foreign, `foreign ${name}`);

    const crossSite = await request.post(`/api/${name}`, {
      form,
      headers: { Origin: origin, 'Sec-Fetch-Site': 'cross-site' },
      maxRedirects: 0,
    });
    expect(JSON.parse(await expectRefused(crossSite, 403, `POST ${name} with Sec-Fetch-Site: cross-site`))).toBe(
      'Forbidden',
    );
    noSessionStarted(crossSite, `cross-site ${name}`);
  }

  // Nothing changed.
  expect((await me(ann.page.request, baseURL!)).id, 'Ann is still logged in').toBe(ann.user.id);
  expect((await messagesOf(ann, baseURL!, direct)).map((m) => m.body)).toEqual(['Hello Ben']);
  expect((await membersOf(ann, baseURL!, direct)).find((m) => m.user.id === ben.user.id)?.last_read_seq).toBe(0);
  expect((await membersOf(ann, baseURL!, group)).map((m) => m.user.id).sort()).toEqual([ann.user.id, ben.user.id].sort());
  expect(await conversationIdsOf(ann, baseURL!)).toEqual(conversationsBefore.ann);
  expect(await conversationIdsOf(ben, baseURL!)).toEqual(conversationsBefore.ben);
  expect(await conversationIdsOf(cat, baseURL!)).toEqual(conversationsBefore.cat);
  const search = (await ok(
    await callServerFn(ann.page.request, baseURL!, 'search_users', { query: newName.username }),
    'search_users',
  )) as User[];
  expect(search, 'the forged sign-up').toEqual([]);
  for (const socket of Object.values(sockets)) await socket.roundTrip();
  const callStates = (s: RawSocket) => eventsOf(s, 'call').map((e) => (e.call as Call).state);
  expect(callStates(sockets.ben), 'what Ben heard of calls').toEqual(['ringing']);
  expect(callStates(sockets.cat), 'what Cat heard of calls').toEqual([]);

  // Control: the same requests from the site itself work, so the refusals above were the guard's.
  await ok(await callServerFn(ben.page.request, baseURL!, 'mark_read', { conversation_id: direct, seq: hello.seq }), 'mark_read');
  await ok(
    await callServerFn(ann.page.request, baseURL!, 'send_message', {
      conversation_id: direct,
      client_msg_id: 'forged-send-1',
      body: 'Forged',
    }),
    'send_message',
  );
  await ok(await callServerFn(ann.page.request, baseURL!, 'add_member', { conversation_id: group, user_id: cat.user.id }), 'add_member');
  const hungUp = (await ok(await callServerFn(ann.page.request, baseURL!, 'hang_up', { call_id: callId }), 'hang_up')) as Call;
  expect(hungUp.state, 'the call was still ringing until now').toBe('cancelled');
  await ok(
    await callServerFn(ann.page.request, baseURL!, 'create_group', { title: 'Real group', 'member_ids[0]': ben.user.id }),
    'create_group',
  );
  await visitor.dispose();
});

test('XSS payloads in display names, group titles and messages show as text', async ({
  page,
  newSessionPage,
  baseURL,
}) => {
  const displayName = '<img src=x onerror=alert(1)>';
  const title = '<script>alert(2)</script>"><svg onload=alert(3)>';
  const body = '<b>bold</b><img src=x onerror=alert(4)>';
  const dialogs: string[] = [];
  const watchDialogs = (p: Page) =>
    p.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss().catch(() => undefined);
    });

  // The attacker signs up with the payload as display name.
  const malPage = await newSessionPage();
  watchDialogs(malPage);
  const malAccount = { ...freshAccount('mal_', 'Mal'), displayName };
  await signUpViaApi(malPage.request, baseURL!, malAccount);
  const mal: Person = { account: malAccount, page: malPage, user: await me(malPage.request, baseURL!) };
  expect(mal.user.display_name).toBe(displayName);

  // Ann has a group with the payload as title, and a direct conversation with Mal.
  watchDialogs(page);
  const ann = await person(page, baseURL!, 'ann_', 'Ann');
  const group = await createGroup(ann, baseURL!, title, [mal]);
  const direct = await openDirect(ann, mal, baseURL!);
  await send(mal, baseURL!, group, body);
  await send(mal, baseURL!, direct, body);

  const expectNoInjectedMarkup = async (p: Page, where: string) => {
    const injected = await p.evaluate(() => ({
      img: document.querySelectorAll('img[src="x"], img[onerror]').length,
      svg: document.querySelectorAll('svg[onload]').length,
      // (The page's own data scripts carry the names JSON-escaped, "\u003cimg ..."; a
      // script made from the payload would hold just the code.)
      script: Array.from(document.querySelectorAll('script')).filter((s) => /^\s*alert\(/.test(s.textContent ?? '')).length,
      bold: Array.from(document.querySelectorAll('.log b')).filter((b) => b.textContent === 'bold').length,
    }));
    expect(injected, `elements made from the payloads (${where})`).toEqual({ img: 0, svg: 0, script: 0, bold: 0 });
    // Nor does the server-rendered HTML of the page carry any of them as markup.
    const html = await (await p.request.get(new URL(p.url()).pathname)).text();
    for (const markup of ['<img src=x', '<svg onload', '<script>alert(', '<b>bold</b>', '<iframe']) {
      expect(html, `server-rendered ${where}`).not.toContain(markup);
    }
  };

  // The group, as Ann sees it.
  const watch = new SocketWatch(page);
  await gotoHydrated(page, `/c/${group}`);
  const chat = chatWindow(page, title);
  await expect(chat.getByRole('heading', { name: title, exact: true })).toBeVisible();
  await expect(conversations(page).getByText(title, { exact: true })).toBeVisible();
  await expect(conversations(page).getByText(displayName, { exact: true })).toBeVisible();
  await expect(messageInLog(page, body)).toBeVisible();
  // A group's messages name their sender.
  await expect(messageLog(page).getByText(displayName, { exact: true })).toBeVisible();
  await chat.getByRole('button', { name: 'Members (2)' }).click();
  await expect(chat.getByRole('group', { name: 'Members' }).getByText(displayName, { exact: true })).toBeVisible();
  await expectNoInjectedMarkup(page, 'the group');

  // The direct conversation: its title is Mal's display name.
  await gotoHydrated(page, `/c/${direct}`);
  await expect(chatWindow(page, displayName).getByRole('heading', { name: displayName, exact: true })).toBeVisible();
  await expect(messageInLog(page, body)).toBeVisible();
  await expectNoInjectedMarkup(page, 'the direct conversation');

  // Mal's own view: the page header shows the name as text, and the group's title too.
  await gotoHydrated(malPage, `/c/${group}`);
  await expect(header(malPage).getByText(displayName, { exact: true })).toBeVisible();
  await expect(chatWindow(malPage, title).getByRole('heading', { name: title, exact: true })).toBeVisible();
  await expect(messageInLog(malPage, body)).toBeVisible();
  await expectNoInjectedMarkup(malPage, 'Mal’s view');
  // The server renders her name into the header as escaped text.
  const malHtml = await (await malPage.request.get(`/c/${group}`)).text();
  expect(malHtml).toContain('&lt;img src=x onerror=alert(1)');

  // A live message arrives the same way.
  await gotoHydrated(page, `/c/${group}`);
  await watch.waitForSubscribed(group);
  const live = '<img src=x onerror=alert(5)><iframe src="javascript:alert(6)"></iframe>';
  await send(mal, baseURL!, group, live);
  await expect(messageInLog(page, live)).toBeVisible();
  expect(await page.locator('iframe').count(), 'iframes').toBe(0);
  await expectNoInjectedMarkup(page, 'after a live message');

  expect(dialogs, 'dialogs opened').toEqual([]);
});
