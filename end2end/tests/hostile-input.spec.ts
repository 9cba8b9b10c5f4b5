import type { BrowserContext, Page } from '@playwright/test';
import {
  HTTP_4XX_RESOURCE_ERROR,
  callServerFn,
  composer,
  expect,
  freshAccount,
  messageInLog,
  openDirectViaApi,
  sendMessage,
  signUpViaApi,
  test,
  twoPeople,
  bothInConversation,
  withServerEnv,
} from '../fixtures';
import { type JsonFrame, OpenedSockets, RawSocket } from '../raw-socket';

// Hostile input straight at the server: WebSocket frames no well-behaved client sends
// (some that no browser can even produce), oversized bodies and floods. Each refusal is
// exact (a close code, an error frame, an HTTP status), and afterwards the server still
// serves: a fresh socket is greeted and /healthz answers.

/** Every raw socket a test opens, dropped after it. */
const opened = new OpenedSockets();
test.afterEach(() => opened.destroyAll());
const rawSocket = (context: BrowserContext, baseURL: string) => opened.open(context, baseURL);
const tryUpgrade = (context: BrowserContext, baseURL: string) => opened.tryUpgrade(context, baseURL);

type Message = { id: string; seq: number; body: string; client_msg_id: string };

/** Signs a fresh person up through the server function, in this page's browser context. */
async function signUpSomeone(page: Page, baseURL: string, prefix = 'eve_', label = 'Eve') {
  const account = freshAccount(prefix, label);
  await signUpViaApi(page.request, baseURL, account);
  return account;
}

/** The server survived: a new socket of this session is greeted, and /healthz is 200. */
async function expectServerStillServes(context: BrowserContext, baseURL: string): Promise<void> {
  const { socket, hello } = await rawSocket(context, baseURL);
  expect(hello).toEqual(expect.objectContaining({ type: 'hello', user_id: expect.any(String) }));
  expect(await socket.roundTrip(), 'a ping on the fresh socket').toEqual([{ type: 'pong' }]);
  await socket.close();
  const health = await fetch(`${baseURL}/healthz`, { signal: AbortSignal.timeout(10_000) });
  expect(health.status, 'GET /healthz').toBe(200);
}

/**
 * Sends one frame, then a ping; returns what came back up to and including the pong
 * (`pings`: how many pongs the frame itself asks for).
 */
async function answerTo(socket: RawSocket, send: () => void, pings = 0): Promise<JsonFrame[]> {
  const from = socket.texts.length;
  send();
  await socket.roundTrip(10_000, pings);
  return socket.json().slice(from);
}

async function messagesOf(page: Page, baseURL: string, conversationId: string): Promise<Message[]> {
  const response = await callServerFn(page.request, baseURL, 'messages', { conversation_id: conversationId });
  expect(response.status(), `messages: ${await response.text()}`).toBe(200);
  return (await response.json()) as Message[];
}

/** Presence comes and goes as sockets open and close; these checks are about the rest. */
function withoutPresence(frames: JsonFrame[]): JsonFrame[] {
  return frames.filter((f) => !(f.type === 'event' && (f.event as { kind?: string })?.kind === 'presence'));
}

const MALFORMED = { type: 'error', code: 'bad_frame', message: expect.stringMatching(/^malformed frame: /) };
const PONG = { type: 'pong' };

// ---------------------------------------------------------------------------
// The default limits
// ---------------------------------------------------------------------------

test('a text frame that is not UTF-8 is closed with 1007 and the server keeps serving', async ({
  page,
  baseURL,
}) => {
  await signUpSomeone(page, baseURL!);
  const { socket } = await rawSocket(page.context(), baseURL!);
  // The socket works before.
  expect(await socket.roundTrip()).toEqual([PONG]);

  // {"type":"ping"} with a lone continuation byte and an overlong encoding inside the string.
  socket.sendText(Buffer.concat([Buffer.from('{"type":"pi'), Buffer.from([0x80, 0xc0, 0xaf]), Buffer.from('ng"}')]));
  expect(await socket.waitForClose()).toEqual({ code: 1007, reason: 'frames must be UTF-8 text' });
  await socket.waitForEnd();
  expect(socket.json().filter((f) => f.type !== 'hello'), 'frames after the bad one').toEqual([PONG]);

  await expectServerStillServes(page.context(), baseURL!);
});

test('malformed, unknown and wrongly typed frames are each answered bad_frame and the socket stays open', async ({
  page,
  newSessionPage,
  baseURL,
}) => {
  const ben = await signUpSomeone(await newSessionPage(), baseURL!, 'ben_', 'Ben');
  await signUpSomeone(page, baseURL!);
  const conversationId = await openDirectViaApi(page.request, baseURL!, ben);
  const first = (await (
    await callServerFn(page.request, baseURL!, 'send_message', {
      conversation_id: conversationId,
      client_msg_id: `first-${conversationId.slice(-12)}`,
      body: 'the first message',
    })
  ).json()) as Message;
  const topic = `conversation:${conversationId}`;
  const { socket } = await rawSocket(page.context(), baseURL!);

  const deepArrays = `{"type":"typing","conversation_id":${'['.repeat(5000)}${']'.repeat(5000)},"active":true}`;
  const deepObjects = `{"type":"typing","conversation_id":"${conversationId}","active":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
  const cases: [string, string][] = [
    ['an unknown frame type', '{"type":"launch_missiles"}'],
    ['a frame without a type', `{"topic":"${topic}"}`],
    ['malformed JSON', '{"type":"ping"'],
    ['not JSON at all', 'hello?'],
    ['an empty frame', ''],
    ['JSON null', 'null'],
    ['a JSON array', '[{"type":"ping"}]'],
    ['a resume seq of 1e400', `{"type":"subscribe","topic":"${topic}","resume":{"seq":1e400,"message_id":"${first.id}"}}`],
    [
      'a resume seq of 99999999999999999999',
      `{"type":"subscribe","topic":"${topic}","resume":{"seq":99999999999999999999,"message_id":"${first.id}"}}`,
    ],
    ['a fractional resume seq', `{"type":"subscribe","topic":"${topic}","resume":{"seq":1.5,"message_id":"${first.id}"}}`],
    ['a string for a boolean', `{"type":"typing","conversation_id":"${conversationId}","active":"yes"}`],
    ['a number for a topic', '{"type":"subscribe","topic":42}'],
    ['an object for an id', `{"type":"typing","conversation_id":{"id":"${conversationId}"},"active":true}`],
    ['an unknown topic kind', '{"type":"subscribe","topic":"admin:all"}'],
    ['an unknown presence state', '{"type":"presence","state":"invisible"}'],
    ['an unknown field', `{"type":"subscribe","topic":"${topic}","as_user":"admin"}`],
    [
      'a field "to" on call_signal',
      '{"type":"call_signal","call_id":"k","to":"someone","signal":{"kind":"offer","sdp":"v=0"}}',
    ],
    ['a field "to" inside the signal', '{"type":"call_signal","call_id":"k","signal":{"kind":"offer","sdp":"v=0","to":"someone"}}'],
    ['a negative line index', '{"type":"call_signal","call_id":"k","signal":{"kind":"candidate","candidate":"c","sdp_mid":null,"sdp_m_line_index":-1}}'],
    ['5000-deep nested arrays', deepArrays],
    ['5000-deep nested objects', deepObjects],
  ];
  for (const [what, text] of cases) {
    const answer = await answerTo(socket, () => socket.sendText(text));
    expect(answer, `the answer to ${what}`).toEqual([MALFORMED, PONG]);
    expect(socket.open, `the socket after ${what}`).toBe(true);
  }

  // A binary frame, even one holding a valid frame, is refused as such.
  const binary = await answerTo(socket, () => socket.sendBinary(Buffer.from('{"type":"ping"}')));
  expect(binary, 'the answer to a binary frame').toEqual([
    { type: 'error', code: 'bad_frame', message: 'Frames are JSON text.' },
    PONG,
  ]);

  // Control: the same frames made well are accepted on the same socket.
  const resumed = await answerTo(socket, () =>
    socket.sendJson({ type: 'subscribe', topic, resume: { seq: first.seq, message_id: first.id } }),
  );
  expect(resumed, 'a well-formed resume').toEqual([{ type: 'subscribed', topic }, PONG]);
  const typing = await answerTo(socket, () =>
    socket.sendJson({ type: 'typing', conversation_id: conversationId, active: true }),
  );
  expect(typing, 'a well-formed typing update').toEqual([PONG]);
  expect(socket.closeFrame).toBeUndefined();

  await expectServerStillServes(page.context(), baseURL!);
});

test('a ping with an unknown field is refused like every other frame with one', async ({ page, baseURL }) => {
  await signUpSomeone(page, baseURL!);
  const { socket } = await rawSocket(page.context(), baseURL!);
  // Unknown fields are refused on every frame type (a subscribe with one is, see above):
  // a ping is no exception, whether the extra field is small or a large padding.
  for (const text of ['{"type":"ping","extra":1}', `{"type":"ping","pad":"${'x'.repeat(3000)}"}`]) {
    const answer = await answerTo(socket, () => socket.sendText(text));
    expect(answer, `the answer to ${text.slice(0, 40)}`).toEqual([MALFORMED, PONG]);
  }
  expect(socket.open).toBe(true);
  await expectServerStillServes(page.context(), baseURL!);
});

test('a burst of 200 garbage frames is answered frame by frame without closing the socket', async ({
  page,
  baseURL,
}) => {
  await signUpSomeone(page, baseURL!);
  const { socket } = await rawSocket(page.context(), baseURL!);
  const garbage = [
    () => socket.sendText('{"type":"launch_missiles"}'),
    () => socket.sendText('{{{{'),
    () => socket.sendText(`{"type":"subscribe","topic":"${'x'.repeat(500)}"}`),
    () => socket.sendBinary(Buffer.from([0, 1, 2, 3, 255])),
    () => socket.sendText('[1,2,3]'),
  ];
  for (let i = 0; i < 200; i++) garbage[i % garbage.length]();
  const from = 1; // after the hello
  await socket.roundTrip(30_000);

  const answers = socket.json().slice(from);
  expect(answers.length, `frames answered: ${socket.describe()}`).toBe(201);
  expect(answers.slice(0, 200).every((f) => f.type === 'error' && f.code === 'bad_frame')).toBe(true);
  expect(answers[200]).toEqual(PONG);
  expect(socket.open, 'the socket after the burst').toBe(true);
  expect(socket.closeFrame).toBeUndefined();

  await expectServerStillServes(page.context(), baseURL!);
});

// ---------------------------------------------------------------------------
// Small frames, messages and bodies
// ---------------------------------------------------------------------------

test.describe('with a 4096-byte frame limit, 50-character messages and 2048-byte bodies', () => {
  const test = withServerEnv({
    NATTER_MAX_FRAME_BYTES: '4096',
    NATTER_MAX_MESSAGE_CHARS: '50',
    NATTER_MAX_BODY_BYTES: '2048',
  });

  test('a frame over max_frame_bytes is closed with 1009, one under it is answered', async ({ page, baseURL }) => {
    await signUpSomeone(page, baseURL!);
    const { socket, hello } = await rawSocket(page.context(), baseURL!);
    expect(hello.limits).toEqual({ max_message_chars: 50, max_frame_bytes: 4096 });

    // 4000 bytes: a ping padded with whitespace is a ping...
    const paddedPing = `{"type":"ping"}${' '.repeat(4000 - 15)}`;
    expect(Buffer.byteLength(paddedPing)).toBe(4000);
    expect(await answerTo(socket, () => socket.sendText(paddedPing), 1)).toEqual([PONG, PONG]);
    // ...and 4000 bytes of an unknown frame type is a bad frame; neither closes the socket.
    const paddedUnknown = `{"type":"launch_missiles","pad":"${'x'.repeat(4000 - '{"type":"launch_missiles","pad":""}'.length)}"}`;
    expect(Buffer.byteLength(paddedUnknown)).toBe(4000);
    expect(await answerTo(socket, () => socket.sendText(paddedUnknown))).toEqual([MALFORMED, PONG]);
    expect(socket.open).toBe(true);

    // 5000 bytes of the same well-formed ping: too large, whatever it says.
    socket.sendText(`{"type":"ping"}${' '.repeat(5000 - 15)}`);
    expect(await socket.waitForClose()).toEqual({ code: 1009, reason: 'frame too large' });
    await socket.waitForEnd();

    await expectServerStillServes(page.context(), baseURL!);
  });

  test('a message over max_message_chars is refused with 422 naming the limit and nothing is stored', async ({
    page,
    newSessionPage,
    baseURL,
  }) => {
    const ben = await signUpSomeone(await newSessionPage(), baseURL!, 'ben_', 'Ben');
    await signUpSomeone(page, baseURL!);
    const conversationId = await openDirectViaApi(page.request, baseURL!, ben);

    const refused = await callServerFn(page.request, baseURL!, 'send_message', {
      conversation_id: conversationId,
      client_msg_id: `long-${conversationId.slice(-12)}`,
      body: 'y'.repeat(51),
    });
    expect(refused.status()).toBe(422);
    expect(await refused.json()).toEqual({
      Invalid: [{ field: 'body', message: 'A message can have at most 50 characters; this one has 51.' }],
    });
    expect(await messagesOf(page, baseURL!, conversationId)).toEqual([]);

    // Control: exactly 50 is fine.
    const accepted = await callServerFn(page.request, baseURL!, 'send_message', {
      conversation_id: conversationId,
      client_msg_id: `fifty-${conversationId.slice(-12)}`,
      body: 'z'.repeat(50),
    });
    expect(accepted.status(), await accepted.text()).toBe(200);
    expect((await messagesOf(page, baseURL!, conversationId)).map((m) => m.body)).toEqual(['z'.repeat(50)]);

    await expectServerStillServes(page.context(), baseURL!);
  });

  test('the composer refuses a message over the server’s limit and keeps the text', async ({
    page,
    newSessionPage,
    baseURL,
  }) => {
    const [ann, ben] = await twoPeople(page, newSessionPage);
    const conversationId = await bothInConversation(ann, ben);
    // The client learnt the limit from the server's hello.
    const hello = ann.sockets.allReceived().find((f) => f.type === 'hello');
    expect(hello?.limits).toEqual({ max_message_chars: 50, max_frame_bytes: 4096 });

    const sends: string[] = [];
    ann.page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/send_message') sends.push(r.postData() ?? '');
    });
    const tooLong = `This message is longer than fifty characters, by a few.`;
    expect(tooLong.length).toBe(55);
    await composer(ann.page).fill(tooLong);
    await composer(ann.page).press('Enter');
    await expect(
      ann.page.getByText('A message can have at most 50 characters; this one has 55.', { exact: true }),
    ).toBeVisible();
    await expect(composer(ann.page)).toHaveValue(tooLong);
    await expect(composer(ann.page)).toHaveAttribute('aria-invalid', 'true');
    await expect(ann.page.locator('.message.mine.pending')).toHaveCount(0);
    expect(sends, 'send_message requests').toEqual([]);

    // Shortened to the limit, it goes.
    const fits = tooLong.slice(0, 50);
    await sendMessage(ann.page, fits);
    await expect(messageInLog(ben.page, fits)).toBeVisible();
    expect((await messagesOf(ann.page, baseURL!, conversationId)).map((m) => m.body)).toEqual([fits]);
  });

  test('a request body over max_body_bytes is answered 413 TooLarge and nothing is stored', async ({
    page,
    newSessionPage,
    baseURL,
  }) => {
    const ben = await signUpSomeone(await newSessionPage(), baseURL!, 'ben_', 'Ben');
    await signUpSomeone(page, baseURL!);
    const conversationId = await openDirectViaApi(page.request, baseURL!, ben);

    const body = 'b'.repeat(5000);
    const refused = await callServerFn(page.request, baseURL!, 'send_message', {
      conversation_id: conversationId,
      client_msg_id: `big-${conversationId.slice(-12)}`,
      body,
    });
    expect(refused.status()).toBe(413);
    expect(refused.headers()['content-type']).toContain('application/json');
    expect(JSON.parse(await refused.text())).toEqual({ TooLarge: { limit_bytes: 2048 } });
    expect(await messagesOf(page, baseURL!, conversationId)).toEqual([]);

    // Control: the same request, small, is stored.
    const small = await callServerFn(page.request, baseURL!, 'send_message', {
      conversation_id: conversationId,
      client_msg_id: `small-${conversationId.slice(-12)}`,
      body: 'small',
    });
    expect(small.status(), await small.text()).toBe(200);
    expect((await messagesOf(page, baseURL!, conversationId)).map((m) => m.body)).toEqual(['small']);

    await expectServerStillServes(page.context(), baseURL!);
  });
});

// ---------------------------------------------------------------------------
// Rates and connection counts
// ---------------------------------------------------------------------------

test.describe('with 5 messages and 3 typing updates a minute and 2 sockets per person', () => {
  const test = withServerEnv({
    NATTER_MESSAGES_PER_MINUTE: '5',
    NATTER_TYPING_PER_MINUTE: '3',
    NATTER_MAX_CONNECTIONS_PER_USER: '2',
  });

  test('the sixth quick message is refused 429 naming the rate and is not stored', async ({
    page,
    newSessionPage,
    baseURL,
  }) => {
    const ben = await signUpSomeone(await newSessionPage(), baseURL!, 'ben_', 'Ben');
    await signUpSomeone(page, baseURL!);
    const conversationId = await openDirectViaApi(page.request, baseURL!, ben);

    const send = (n: number) =>
      callServerFn(page.request, baseURL!, 'send_message', {
        conversation_id: conversationId,
        client_msg_id: `quick-${n}-${conversationId.slice(-12)}`,
        body: `quick ${n}`,
      });
    for (let n = 1; n <= 5; n++) {
      const response = await send(n);
      expect(response.status(), `message ${n}: ${await response.text()}`).toBe(200);
    }
    const sixth = await send(6);
    expect(sixth.status()).toBe(429);
    const error = (await sixth.json()) as { RateLimited: { message: string; retry_after_secs: number } };
    expect(error.RateLimited.message).toMatch(
      /^You are sending messages too fast \(at most 5 a minute\)\. Waiting \d+ s before sending\.$/,
    );
    expect(error.RateLimited.retry_after_secs).toBeGreaterThan(0);
    expect((await messagesOf(page, baseURL!, conversationId)).map((m) => m.body)).toEqual([
      'quick 1',
      'quick 2',
      'quick 3',
      'quick 4',
      'quick 5',
    ]);

    await expectServerStillServes(page.context(), baseURL!);
  });

  test('a rate-limited message waits in the outbox and is then delivered by itself, once', async ({
    page,
    newSessionPage,
    baseURL,
    allowConsoleErrors,
  }) => {
    // Two browsers, and a wait of its own for the rate's token to refill (12 s).
    test.setTimeout(120_000);
    // The refused attempts are 429 responses, which Chromium logs.
    allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
    const [ann, ben] = await twoPeople(page, newSessionPage);
    const conversationId = await bothInConversation(ann, ben);

    // Ann spends her five through the server function (as another tab of hers could)...
    for (let n = 1; n <= 5; n++) {
      const response = await callServerFn(ann.page.request, baseURL!, 'send_message', {
        conversation_id: conversationId,
        client_msg_id: `burst-${n}-${conversationId.slice(-12)}`,
        body: `burst ${n}`,
      });
      expect(response.status(), `message ${n}: ${await response.text()}`).toBe(200);
    }
    await expect(messageInLog(ann.page, 'burst 5')).toBeVisible();

    // ...then writes a sixth in the app.
    await composer(ann.page).fill('the sixth one');
    await composer(ann.page).press('Enter');
    const pending = ann.page.locator('.message.mine.pending').filter({ hasText: 'the sixth one' });
    const waiting = pending.locator('.receipt.waiting[role=status]');
    await expect(waiting).toContainText(
      /^Waiting to send: You are sending messages too fast \(at most 5 a minute\)\. Waiting \d+ s before sending\./,
    );
    await expect(waiting.getByRole('button', { name: 'Send now' })).toBeVisible();

    // Nobody touches anything: a token refills after 12 s and the outbox sends it.
    await expect(messageInLog(ben.page, 'the sixth one')).toBeVisible({ timeout: 45_000 });
    await expect(pending).toHaveCount(0, { timeout: 15_000 });
    await expect(messageInLog(ann.page, 'the sixth one')).toHaveCount(1);
    await expect(messageInLog(ben.page, 'the sixth one')).toHaveCount(1);
    const stored = await messagesOf(ann.page, baseURL!, conversationId);
    expect(stored.map((m) => m.body)).toEqual(['burst 1', 'burst 2', 'burst 3', 'burst 4', 'burst 5', 'the sixth one']);
  });

  test('the fourth typing update in a minute is refused rate_limited and not relayed', async ({
    page,
    newSessionPage,
    baseURL,
  }) => {
    const benPage = await newSessionPage();
    const ben = await signUpSomeone(benPage, baseURL!, 'ben_', 'Ben');
    await signUpSomeone(page, baseURL!, 'ann_', 'Ann');
    const conversationId = await openDirectViaApi(page.request, baseURL!, ben);
    const topic = `conversation:${conversationId}`;
    const { socket: annSocket } = await rawSocket(page.context(), baseURL!);
    const { socket: benSocket } = await rawSocket(benPage.context(), baseURL!);
    for (const socket of [annSocket, benSocket]) {
      expect(withoutPresence(await answerTo(socket, () => socket.sendJson({ type: 'subscribe', topic })))).toEqual([
        { type: 'subscribed', topic },
        PONG,
      ]);
    }

    const from = annSocket.texts.length;
    for (let n = 0; n < 4; n++) annSocket.sendJson({ type: 'typing', conversation_id: conversationId, active: true });
    await annSocket.roundTrip();
    expect(withoutPresence(annSocket.json().slice(from))).toEqual([
      {
        type: 'error',
        code: 'rate_limited',
        message: expect.stringMatching(/^Typing updates are too frequent: at most 3 a minute\. Wait \d+ ms\.$/),
      },
      PONG,
    ]);
    expect(annSocket.open).toBe(true);

    // Ben heard exactly three.
    await benSocket.roundTrip();
    const typing = benSocket
      .json()
      .filter((f) => f.type === 'event' && (f.event as { kind: string }).kind === 'typing');
    expect(typing.map((f) => (f.event as { active: boolean }).active)).toEqual([true, true, true]);

    await expectServerStillServes(page.context(), baseURL!);
  });

  test('a third socket of the same person is refused 429 before the upgrade; others still connect', async ({
    page,
    newSessionPage,
    baseURL,
  }) => {
    const otherPage = await newSessionPage();
    await signUpSomeone(otherPage, baseURL!, 'ben_', 'Ben');
    await signUpSomeone(page, baseURL!);
    const { socket: first } = await rawSocket(page.context(), baseURL!);
    await rawSocket(page.context(), baseURL!);

    const third = await tryUpgrade(page.context(), baseURL!);
    expect(third.status).toBe(429);
    expect(third.body).toBe('Too many open tabs: at most 2 per person. Close one and reload.');
    expect(third.frames, 'frames on a refused upgrade').toEqual([]);
    await third.waitForEnd();

    // Someone else is not affected.
    const { hello: otherHello } = await rawSocket(otherPage.context(), baseURL!);
    expect(otherHello.type).toBe('hello');

    // Once one of the two closes, a new one is let in.
    await first.close();
    await expect
      .poll(
        async () => {
          const attempt = await tryUpgrade(page.context(), baseURL!);
          return attempt.status;
        },
        { message: 'a new upgrade after closing one socket', timeout: 15_000 },
      )
      .toBe(101);
    for (const socket of opened.list.filter((s) => s.status === 429)) socket.destroy();
    // That socket is greeted: the server still serves.
    const admitted = opened.list[opened.list.length - 1];
    await admitted.waitForJson((f) => f.type === 'hello');
    expect(await admitted.roundTrip()).toEqual([PONG]);
    const health = await fetch(`${baseURL}/healthz`);
    expect(health.status).toBe(200);
  });
});
