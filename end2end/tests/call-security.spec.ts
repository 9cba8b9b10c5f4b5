import type { APIRequestContext, APIResponse, Page } from '@playwright/test';
import {
  type NewAccount,
  type SocketFrame,
  callServerFn,
  expect,
  freshAccount,
  openDirectViaApi,
  signUpViaApi,
  test,
  expectRefused,
} from '../fixtures';

// Server-level checks of calls: Ann and Ben have a direct conversation; Eve, signed in but
// not a member, goes straight at the call server functions and the WebSocket, the way a
// script (or a modified client) could. Every socket here is a raw one the test opens inside
// a person's page (so it carries their session cookie); the pages show /healthz, not the
// app, so no client code rings, answers or signals on anyone's behalf.

type CallState = 'ringing' | 'active' | 'ended' | 'declined' | 'cancelled' | 'missed' | 'busy';
type Call = { id: string; conversation_id: string; state: CallState; caller: { id: string }; callee: { id: string } };
type CallTicket = { call: Call; ice_servers: unknown[] };
type Signal =
  | { kind: 'offer' | 'answer'; sdp: string }
  | { kind: 'candidate'; candidate: string; sdp_mid: string | null; sdp_m_line_index: number | null };

const NOT_CONNECTED = 'This tab is not connected to the server; wait a moment and try again.';
const NOT_IN_CALL = 'You are not in that call.';

const OFFER: Signal = { kind: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const ANSWER: Signal = { kind: 'answer', sdp: 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const CANDIDATE: Signal = {
  kind: 'candidate',
  candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
  sdp_mid: '0',
  sdp_m_line_index: 0,
};

// ---------------------------------------------------------------------------
// Raw WebSockets, opened inside a page
// ---------------------------------------------------------------------------

type RawSocketState = { ws: WebSocket; frames: SocketFrame[] };
type SocketWindow = { __sockets?: Record<string, RawSocketState> };

/** One raw socket to /ws in someone's page, named `key` there. */
type RawSocket = { page: Page; key: string; connectionId: number; userId: string };

/** Opens `ws://<host>/ws` from the page, waits for the server's hello and keeps every frame. */
async function openSocket(page: Page, key: string): Promise<RawSocket> {
  const hello = await page.evaluate(
    (key) =>
      new Promise<SocketFrame>((resolve, reject) => {
        const w = window as unknown as SocketWindow;
        w.__sockets ??= {};
        const ws = new WebSocket(`ws://${location.host}/ws`);
        const state: RawSocketState = { ws, frames: [] };
        w.__sockets[key] = state;
        ws.onmessage = (e) => {
          const frame = JSON.parse(String(e.data)) as SocketFrame;
          state.frames.push(frame);
          if (frame.type === 'hello') resolve(frame);
        };
        ws.onclose = (e) => reject(new Error(`socket ${key} closed (${e.code}) before hello`));
        setTimeout(() => reject(new Error(`no hello on socket ${key} within 10 s`)), 10_000);
      }),
    key,
  );
  expect(hello.connection_id, `hello on ${key} names its connection id`).toEqual(expect.any(Number));
  expect(hello.user_id, `hello on ${key} names the user`).toEqual(expect.any(String));
  return { page, key, connectionId: hello.connection_id as number, userId: hello.user_id as string };
}

/** Sends a frame (an object as JSON, or a string as it is). */
async function send(socket: RawSocket, frame: object | string): Promise<void> {
  await socket.page.evaluate(
    ([key, text]) => (window as unknown as SocketWindow).__sockets![key].ws.send(text),
    [socket.key, typeof frame === 'string' ? frame : JSON.stringify(frame)] as const,
  );
}

async function framesOf(socket: RawSocket): Promise<SocketFrame[]> {
  return socket.page.evaluate((key) => (window as unknown as SocketWindow).__sockets![key].frames, socket.key);
}

async function closeSocket(socket: RawSocket): Promise<void> {
  await socket.page.evaluate(
    (key) =>
      new Promise<void>((resolve) => {
        const { ws } = (window as unknown as SocketWindow).__sockets![key];
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.addEventListener('close', () => resolve());
        ws.close();
      }),
    socket.key,
  );
}

/**
 * Everything the server had queued for this socket before now has arrived: a ping sent
 * now is answered after it (one connection's frames are delivered in order). Use before
 * checking that something did not arrive.
 */
async function drain(socket: RawSocket): Promise<void> {
  const pongsBefore = (await framesOf(socket)).filter((f) => f.type === 'pong').length;
  await send(socket, { type: 'ping' });
  await expect
    .poll(async () => (await framesOf(socket)).filter((f) => f.type === 'pong').length, {
      message: `socket ${socket.key} answered a ping`,
      timeout: 15_000,
    })
    .toBe(pongsBefore + 1);
}

type EventFrame = { type: 'event'; topic: string; event: { kind: string; call?: Call; call_id?: string; signal?: Signal } };

function events(frames: SocketFrame[], kind: 'call' | 'call_signal'): EventFrame['event'][] {
  return frames
    .filter((f) => f.type === 'event')
    .map((f) => (f as unknown as EventFrame).event)
    .filter((e) => e.kind === kind);
}

/** The call events a socket has received, oldest first. */
async function callEvents(socket: RawSocket): Promise<Call[]> {
  return events(await framesOf(socket), 'call').map((e) => e.call!);
}

/** The signaling a socket has received, oldest first. */
async function signalsReceived(socket: RawSocket): Promise<{ call_id: string; signal: Signal }[]> {
  return events(await framesOf(socket), 'call_signal').map((e) => ({ call_id: e.call_id!, signal: e.signal! }));
}

async function errorsOf(socket: RawSocket): Promise<SocketFrame[]> {
  return (await framesOf(socket)).filter((f) => f.type === 'error');
}

/** Waits until the socket has seen the call in `state`. */
async function expectCallEvent(socket: RawSocket, callId: string, state: CallState): Promise<void> {
  await expect
    .poll(async () => (await callEvents(socket)).filter((c) => c.id === callId).map((c) => c.state), {
      message: `socket ${socket.key} heard that call ${callId} is ${state}`,
      timeout: 15_000,
    })
    .toContain(state);
}

/** Waits until the socket has received `count` signals in all. */
async function expectSignalCount(socket: RawSocket, count: number): Promise<void> {
  await expect
    .poll(async () => (await signalsReceived(socket)).length, {
      message: `socket ${socket.key} received ${count} call signal(s)`,
      timeout: 15_000,
    })
    .toBe(count);
}

/** Waits until the socket has received `count` error frames in all; returns them. */
async function expectErrors(socket: RawSocket, count: number): Promise<SocketFrame[]> {
  await expect
    .poll(async () => (await errorsOf(socket)).length, {
      message: `socket ${socket.key} received ${count} error frame(s)`,
      timeout: 15_000,
    })
    .toBe(count);
  return errorsOf(socket);
}

// ---------------------------------------------------------------------------
// People and server functions
// ---------------------------------------------------------------------------

type Person = { account: NewAccount; page: Page };

type Setup = { ann: Person; ben: Person; eve: Person; conversationId: string };

/**
 * Ann, Ben and Eve signed up (through the server function); Ann and Ben share a direct
 * conversation. Each page shows a plain page of the site, ready for raw sockets.
 */
async function setUp(page: Page, newSessionPage: () => Promise<Page>, baseURL: string): Promise<Setup> {
  const ann = { account: freshAccount('ann_', 'Ann'), page: await newSessionPage() };
  const ben = { account: freshAccount('ben_', 'Ben'), page: await newSessionPage() };
  const eve = { account: freshAccount('eve_', 'Eve'), page };
  await Promise.all([ann, ben, eve].map((p) => signUpViaApi(p.page.request, baseURL, p.account)));
  const conversationId = await openDirectViaApi(ann.page.request, baseURL, ben.account);
  await Promise.all([ann, ben, eve].map((p) => p.page.goto('/healthz')));
  return { ann, ben, eve, conversationId };
}

function startCall(request: APIRequestContext, baseURL: string, conversationId: string, connectionId: number) {
  return callServerFn(request, baseURL, 'start_call', {
    conversation_id: conversationId,
    media: 'video',
    connection_id: connectionId,
  });
}

function answerCall(request: APIRequestContext, baseURL: string, callId: string, connectionId: number) {
  return callServerFn(request, baseURL, 'answer_call', { call_id: callId, connection_id: connectionId });
}

/** A call that worked: 200 and a ticket for a call in `state`. */
/** One raw socket each for Ann, Ben and Eve. */
function socketsOfAll(s: Setup): Promise<[RawSocket, RawSocket, RawSocket]> {
  return Promise.all([openSocket(s.ann.page, 'ann'), openSocket(s.ben.page, 'ben'), openSocket(s.eve.page, 'eve')]);
}

async function expectTicket(response: APIResponse, state: CallState, what: string): Promise<CallTicket> {
  const text = await response.text();
  expect(response.status(), `${what}: ${text}`).toBe(200);
  const ticket = JSON.parse(text) as CallTicket;
  expect(ticket.call.state, `${what}: state`).toBe(state);
  return ticket;
}

/** Ann rings Ben from her socket; returns the ringing call once Ben's socket has heard it. */
async function annRingsBen(s: Setup, baseURL: string, annSocket: RawSocket, benSocket: RawSocket): Promise<Call> {
  const ticket = await expectTicket(
    await startCall(s.ann.page.request, baseURL, s.conversationId, annSocket.connectionId),
    'ringing',
    'Ann starts a call',
  );
  expect(ticket.call.conversation_id).toBe(s.conversationId);
  await expectCallEvent(benSocket, ticket.call.id, 'ringing');
  return ticket.call;
}

/** Ben answers on `benSocket`; returns once both bound sockets have heard the call is active. */
async function benAnswers(
  s: Setup,
  baseURL: string,
  call: Call,
  annSocket: RawSocket,
  benSocket: RawSocket,
): Promise<void> {
  await expectTicket(await answerCall(s.ben.page.request, baseURL, call.id, benSocket.connectionId), 'active', 'Ben answers');
  await expectCallEvent(annSocket, call.id, 'active');
  await expectCallEvent(benSocket, call.id, 'active');
}

function callSignal(callId: string, signal: Signal): object {
  return { type: 'call_signal', call_id: callId, signal };
}

// ---------------------------------------------------------------------------

test('a non-member cannot ring a conversation', async ({ page, newSessionPage, baseURL }) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, benSocket, eveSocket] = await socketsOfAll(s);

  const refused = await expectRefused(
    await startCall(s.eve.page.request, baseURL!, s.conversationId, eveSocket.connectionId),
    403,
    'Eve starts a call in Ann and Ben’s conversation',
  );
  // Nothing in the refusal says who is in there.
  expect(refused).not.toContain(s.ann.account.username);
  expect(refused).not.toContain(s.ben.account.username);
  // It reads the same as for a conversation that does not exist.
  const unknown = await expectRefused(
    await startCall(s.eve.page.request, baseURL!, '01900000-0000-7000-8000-000000000000', eveSocket.connectionId),
    403,
    'Eve starts a call in a conversation that does not exist',
  );
  expect(refused).toBe(unknown);

  // Ann then rings Ben for real: that is the first call either of them hears of.
  const call = await annRingsBen(s, baseURL!, annSocket, benSocket);
  await expectCallEvent(annSocket, call.id, 'ringing');
  expect((await callEvents(benSocket)).map((c) => c.id), 'calls Ben heard of').toEqual([call.id]);
  expect((await callEvents(annSocket)).map((c) => c.id), 'calls Ann heard of').toEqual([call.id]);
  expect(call.caller.id).toBe(annSocket.userId);
  await drain(eveSocket);
  expect(await callEvents(eveSocket), 'calls Eve heard of').toEqual([]);
});

test('a non-participant cannot answer, decline or hang up a call', async ({ page, newSessionPage, baseURL }) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, benSocket, eveSocket] = await socketsOfAll(s);
  const call = await annRingsBen(s, baseURL!, annSocket, benSocket);

  const unknownId = '01900000-0000-7000-8000-000000000000';
  const attempts: [string, (callId: string) => Promise<APIResponse>][] = [
    ['answer_call', (id) => answerCall(s.eve.page.request, baseURL!, id, eveSocket.connectionId)],
    ['decline_call', (id) => callServerFn(s.eve.page.request, baseURL!, 'decline_call', { call_id: id })],
    ['hang_up', (id) => callServerFn(s.eve.page.request, baseURL!, 'hang_up', { call_id: id })],
  ];
  for (const [name, attempt] of attempts) {
    const refused = await expectRefused(await attempt(call.id), 403, `Eve's ${name} of Ann's call`);
    expect(refused, `Eve's ${name}: body`).not.toContain(s.ann.account.username);
    // Indistinguishable from a call that does not exist.
    const unknown = await expectRefused(await attempt(unknownId), 403, `Eve's ${name} of a call that does not exist`);
    expect(refused, `Eve's ${name}: same answer as for no call at all`).toBe(unknown);
  }

  // The call is still ringing: Ben answers it.
  const ticket = await expectTicket(
    await answerCall(s.ben.page.request, baseURL!, call.id, benSocket.connectionId),
    'active',
    'Ben answers after Eve’s attempts',
  );
  expect(ticket.call.id).toBe(call.id);
  await expectCallEvent(annSocket, call.id, 'active');
  await expectCallEvent(benSocket, call.id, 'active');
  expect((await callEvents(benSocket)).map((c) => c.state), 'what Ben heard of the call').toEqual([
    'ringing',
    'active',
  ]);
  await drain(eveSocket);
  expect(await callEvents(eveSocket), 'calls Eve heard of').toEqual([]);
});

test('a caller cannot answer their own call, and an over call stays over', async ({
  page,
  newSessionPage,
  baseURL,
}) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, benSocket] = await Promise.all([openSocket(s.ann.page, 'ann'), openSocket(s.ben.page, 'ben')]);
  const call = await annRingsBen(s, baseURL!, annSocket, benSocket);

  await expectRefused(
    await answerCall(s.ann.page.request, baseURL!, call.id, annSocket.connectionId),
    409,
    'Ann answers her own call',
  );

  const hungUp = await callServerFn(s.ann.page.request, baseURL!, 'hang_up', { call_id: call.id });
  expect(hungUp.status(), `Ann hangs up: ${await hungUp.text()}`).toBe(200);
  expect(((await hungUp.json()) as Call).state).toBe('cancelled');
  await expectCallEvent(benSocket, call.id, 'cancelled');

  const late = await expectRefused(
    await answerCall(s.ben.page.request, baseURL!, call.id, benSocket.connectionId),
    409,
    'Ben answers the cancelled call',
  );
  expect(late).toContain('already ended');

  // Neither side ever heard of the call as active.
  for (const socket of [annSocket, benSocket]) {
    await drain(socket);
    expect((await callEvents(socket)).map((c) => c.state), `what ${socket.key} heard of the call`).toEqual([
      'ringing',
      'cancelled',
    ]);
  }
});

test('a connection id of someone else’s socket is refused', async ({ page, newSessionPage, baseURL }) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, benSocket] = await Promise.all([openSocket(s.ann.page, 'ann'), openSocket(s.ben.page, 'ben')]);

  const refused = await expectRefused(
    await startCall(s.ann.page.request, baseURL!, s.conversationId, benSocket.connectionId),
    409,
    'Ann starts a call bound to Ben’s socket',
  );
  expect(refused).toContain(NOT_CONNECTED);

  // Nobody rang: the first call either of them hears of is the one Ann then places properly.
  const call = await annRingsBen(s, baseURL!, annSocket, benSocket);
  await expectCallEvent(annSocket, call.id, 'ringing');
  for (const socket of [annSocket, benSocket]) {
    expect((await callEvents(socket)).map((c) => c.id), `calls ${socket.key} heard of`).toEqual([call.id]);
  }
});

test('a non-member cannot send signaling for a call', async ({ page, newSessionPage, baseURL }) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, benSocket, eveSocket] = await socketsOfAll(s);
  const call = await annRingsBen(s, baseURL!, annSocket, benSocket);
  await benAnswers(s, baseURL!, call, annSocket, benSocket);

  const forged: Signal = { kind: 'offer', sdp: 'v=0\r\ns=eve\r\n' };
  await send(eveSocket, callSignal(call.id, forged));
  const [error] = await expectErrors(eveSocket, 1);
  expect(error).toEqual({ type: 'error', code: 'forbidden', message: NOT_IN_CALL });

  // The real signaling still flows, both ways; Eve's is in neither stream.
  await send(annSocket, callSignal(call.id, OFFER));
  await expectSignalCount(benSocket, 1);
  await send(benSocket, callSignal(call.id, ANSWER));
  await expectSignalCount(annSocket, 1);
  expect(await signalsReceived(benSocket), 'what Ben received').toEqual([{ call_id: call.id, signal: OFFER }]);
  expect(await signalsReceived(annSocket), 'what Ann received').toEqual([{ call_id: call.id, signal: ANSWER }]);
  expect(await errorsOf(annSocket)).toEqual([]);
  expect(await errorsOf(benSocket)).toEqual([]);
});

test('signaling goes only to the other participant’s answering tab', async ({ page, newSessionPage, baseURL }) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, benFirst, benSecond, eveSocket] = await Promise.all([
    openSocket(s.ann.page, 'ann'),
    openSocket(s.ben.page, 'ben-1'),
    openSocket(s.ben.page, 'ben-2'),
    openSocket(s.eve.page, 'eve'),
  ]);
  expect(benFirst.connectionId).not.toBe(benSecond.connectionId);
  const call = await annRingsBen(s, baseURL!, annSocket, benFirst);
  // Both of Ben's tabs ring.
  await expectCallEvent(benSecond, call.id, 'ringing');
  await benAnswers(s, baseURL!, call, annSocket, benFirst);
  // Both of Ben's tabs hear it was answered (so the other can stop ringing).
  await expectCallEvent(benSecond, call.id, 'active');

  // Ann's offer reaches Ben's answering tab, exactly once.
  await send(annSocket, callSignal(call.id, OFFER));
  await expectSignalCount(benFirst, 1);
  expect(await signalsReceived(benFirst)).toEqual([{ call_id: call.id, signal: OFFER }]);
  const [signalFrame] = (await framesOf(benFirst)).filter(
    (f) => f.type === 'event' && (f as unknown as EventFrame).event.kind === 'call_signal',
  );
  expect(signalFrame.topic, 'the signal is addressed to Ben').toBe(`user:${benFirst.userId}`);
  // ...and not his other tab, nor Eve.
  for (const socket of [benSecond, eveSocket]) {
    await drain(socket);
    expect(await signalsReceived(socket), `signals on ${socket.key}`).toEqual([]);
  }

  // Ben's other tab may not signal in the call his first tab answered.
  await send(benSecond, callSignal(call.id, ANSWER));
  const [forbidden] = await expectErrors(benSecond, 1);
  expect(forbidden).toEqual({ type: 'error', code: 'forbidden', message: NOT_IN_CALL });

  // A signal that names its own recipient is malformed, at the top level or inside the signal.
  await send(annSocket, { ...callSignal(call.id, CANDIDATE), to: eveSocket.userId });
  await send(annSocket, callSignal(call.id, { ...CANDIDATE, to: eveSocket.userId } as Signal));
  const annErrors = await expectErrors(annSocket, 2);
  for (const error of annErrors) expect(error).toEqual(expect.objectContaining({ type: 'error', code: 'bad_frame' }));

  // Ben's answering tab answers; Ann gets exactly that, not what his other tab tried.
  await send(benFirst, callSignal(call.id, ANSWER));
  await expectSignalCount(annSocket, 1);
  expect(await signalsReceived(annSocket)).toEqual([{ call_id: call.id, signal: ANSWER }]);

  // Ann's next, well-formed candidate arrives; the "to" frames went nowhere.
  await send(annSocket, callSignal(call.id, CANDIDATE));
  await expectSignalCount(benFirst, 2);
  expect(await signalsReceived(benFirst)).toEqual([
    { call_id: call.id, signal: OFFER },
    { call_id: call.id, signal: CANDIDATE },
  ]);
  for (const socket of [benSecond, eveSocket]) {
    await drain(socket);
    expect(await signalsReceived(socket), `signals on ${socket.key}`).toEqual([]);
  }
  expect(await errorsOf(benFirst)).toEqual([]);
});

test('a call still ringing before it is answered relays nothing', async ({ page, newSessionPage, baseURL }) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, benSocket] = await Promise.all([openSocket(s.ann.page, 'ann'), openSocket(s.ben.page, 'ben')]);
  const call = await annRingsBen(s, baseURL!, annSocket, benSocket);

  await send(annSocket, callSignal(call.id, OFFER));
  const [error] = await expectErrors(annSocket, 1);
  expect(error).toEqual({ type: 'error', code: 'forbidden', message: NOT_IN_CALL });

  // Once Ben answers, signaling flows, and the early offer was not kept for him.
  await benAnswers(s, baseURL!, call, annSocket, benSocket);
  await send(annSocket, callSignal(call.id, CANDIDATE));
  await expectSignalCount(benSocket, 1);
  expect(await signalsReceived(benSocket)).toEqual([{ call_id: call.id, signal: CANDIDATE }]);
});

test('closing the caller’s socket ends the ringing call', async ({ page, newSessionPage, baseURL }) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, annOther, benFirst, benSecond] = await Promise.all([
    openSocket(s.ann.page, 'ann'),
    openSocket(s.ann.page, 'ann-2'),
    openSocket(s.ben.page, 'ben-1'),
    openSocket(s.ben.page, 'ben-2'),
  ]);
  const call = await annRingsBen(s, baseURL!, annSocket, benFirst);
  await expectCallEvent(benSecond, call.id, 'ringing');

  await closeSocket(annSocket);

  for (const socket of [benFirst, benSecond, annOther]) {
    await expectCallEvent(socket, call.id, 'cancelled');
    expect((await callEvents(socket)).map((c) => c.state), `what ${socket.key} heard of the call`).toEqual([
      'ringing',
      'cancelled',
    ]);
  }
  // It is over: Ben can no longer answer it.
  await expectRefused(
    await answerCall(s.ben.page.request, baseURL!, call.id, benFirst.connectionId),
    409,
    'Ben answers the call whose caller left',
  );
});

test('a logged-out request cannot start a call', async ({ request, page, newSessionPage, baseURL }) => {
  const s = await setUp(page, newSessionPage, baseURL!);
  const [annSocket, benSocket] = await Promise.all([openSocket(s.ann.page, 'ann'), openSocket(s.ben.page, 'ben')]);

  // `request` is a context of its own, with no session cookie.
  await expectRefused(
    await startCall(request, baseURL!, s.conversationId, annSocket.connectionId),
    401,
    'start_call without a session',
  );

  await drain(benSocket);
  await drain(annSocket);
  expect(await callEvents(benSocket), 'calls Ben heard of').toEqual([]);
  expect(await callEvents(annSocket), 'calls Ann heard of').toEqual([]);
});
