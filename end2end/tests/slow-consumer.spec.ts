/**
 * A slow consumer: a client that stops reading from its WebSocket must not hold the
 * server's memory hostage or slow anyone else down. The server keeps a bounded queue of
 * frames (256) per connection; once a connection's queue is full it is cut off (close code
 * 4008, or the TCP connection just ends if even the close frame cannot be written), and that
 * client recovers what it missed by seq (resume + messages_after).
 *
 * Against a real server process (its own, so its RSS is the test's alone), real sockets
 * (a raw Node WebSocket client that can stop reading: `RawSocket.pause()`) and the real
 * SQLite database as ground truth:
 *
 * - Ann floods a group with thousands of ~4 KB messages, eight sends at a time;
 * - Ben reads normally and gets every message once, in seq order, never cut off;
 * - Cat has eight sockets that stopped reading: each is cut off having received fewer
 *   than all of them, and is no longer counted against Cat's connection cap;
 * - the server's RSS grows by far less than the queued frames would take if queues were
 *   unbounded;
 * - one of Cat's sockets resumes from the last message it got and fetches the rest:
 *   together that is exactly the conversation the database holds.
 */
import { createHash } from 'node:crypto';
import type { Page } from '@playwright/test';
import { callServerFn, expect, test } from '../fixtures';
import { type JsonFrame, RawSocket, openRawSocket, sessionCookie } from '../raw-socket';
import { ControlledServer, type Member, signUpOn, sqlite } from '../server-control';

/** Messages in the flood. The paused sockets must be pushed far more than their kernel buffers hold. */
const FLOOD = 2000;
/** Characters per flood message (the default limit is 4000). */
const BODY_CHARS = 4000;
/** Messages sent before the baseline is taken (every code path and pool connection warmed up). */
const WARM_UP = 60;
/** Sends in flight at once. */
const SENDERS = 8;
/** Cat's sockets that stop reading (the per-user cap is 20). */
const SLOW_SOCKETS = 8;
/** The per-user connection cap (NATTER_MAX_CONNECTIONS_PER_USER default). */
const MAX_CONNECTIONS = 20;
/** The close code for "too slow: reconnect and resume". */
const CLOSE_TOO_SLOW = 4008;
const PAGE_SIZE = 50;

type Message = {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  client_msg_id: string;
  kind: string;
  body: string;
  created_at: number;
};

/** A stored message; its body as a SHA-256 hex digest (thousands of 4 KB bodies are too much to print). */
type DbMessage = { seq: number; id: string; body_sha256: string; client_msg_id: string };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A unique, numbered body of exactly `BODY_CHARS` characters. */
function floodBody(i: number): string {
  const head = `flood message ${i} of ${FLOOD}: `;
  const filler = `[${i}] lorem ipsum dolor sit amet `;
  return (head + filler.repeat(Math.ceil(BODY_CHARS / filler.length))).slice(0, BODY_CHARS);
}

/**
 * The `message_created` events a raw socket received, parsed incrementally (a socket that
 * gets thousands of 4 KB frames must not be re-parsed from the start on every look).
 */
class MessageEvents {
  /** Each message with when its frame arrived and the frame's size in bytes. */
  readonly messages: { message: Message; at: number; bytes: number }[] = [];
  readonly others: JsonFrame[] = [];
  private parsed = 0;

  constructor(readonly socket: RawSocket) {}

  update(): this {
    const { texts, textTimes } = this.socket;
    for (; this.parsed < texts.length; this.parsed++) {
      const frame = JSON.parse(texts[this.parsed]) as JsonFrame;
      const event = frame.event as { kind?: string; message?: Message } | undefined;
      if (frame.type === 'event' && event?.kind === 'message_created' && event.message) {
        const bytes = Buffer.byteLength(texts[this.parsed]);
        this.messages.push({ message: event.message, at: textTimes[this.parsed], bytes });
      } else {
        this.others.push(frame);
      }
    }
    return this;
  }

  count(prefix: string): number {
    return this.update().messages.filter((m) => m.message.client_msg_id.startsWith(prefix)).length;
  }
}

/** Sends `count` messages as Ann, `SENDERS` at a time; returns each answer (or failure) by index. */
async function sendMany(
  page: Page,
  origin: string,
  conversationId: string,
  prefix: string,
  count: number,
  body: (i: number) => string,
  sentAt: Map<string, number>,
): Promise<{ answers: (Message | undefined)[]; failures: string[] }> {
  const answers: (Message | undefined)[] = new Array(count);
  const failures: string[] = [];
  let next = 0;
  const sender = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const clientMsgId = `${prefix}${i}`;
      sentAt.set(clientMsgId, performance.now());
      const response = await callServerFn(page.request, origin, 'send_message', {
        conversation_id: conversationId,
        client_msg_id: clientMsgId,
        body: body(i),
      });
      if (response.status() === 200) answers[i] = (await response.json()) as Message;
      else failures.push(`${clientMsgId}: ${response.status()} ${(await response.text()).slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
  return { answers, failures };
}

/** The conversation's messages as the database holds them, by seq. */
function dbMessages(dbPath: string, conversationId: string): DbMessage[] {
  const out = sqlite(
    dbPath,
    `import hashlib
c = sqlite3.connect(db, timeout=20)
rows = c.execute("SELECT seq, id, body, client_msg_id FROM messages WHERE conversation_id = ? ORDER BY seq", (${JSON.stringify(conversationId)},)).fetchall()
print(json.dumps([dict(seq=r[0], id=r[1], body_sha256=hashlib.sha256(r[2].encode()).hexdigest(), client_msg_id=r[3]) for r in rows]))`,
  );
  return JSON.parse(out) as DbMessage[];
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

test('a client that stops reading is cut off once its bounded queue is full, the server memory stays flat, other clients get every message in order, and the slow client recovers everything by seq', async ({
  newSessionPage,
}) => {
  // Thousands of 4 KB messages through a debug server of its own, then the slow client's
  // recovery: minutes, not seconds, on a busy machine.
  test.setTimeout(240_000);
  const s = new ControlledServer({ NATTER_MESSAGES_PER_MINUTE: '100000' });
  const sockets: RawSocket[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  const note = (type: string, description: string) => test.info().annotations.push({ type, description });
  try {
    await s.start();
    const origin = s.baseURL;
    const [annPage, benPage, catPage] = await Promise.all([
      newSessionPage({ baseURL: origin }),
      newSessionPage({ baseURL: origin }),
      newSessionPage({ baseURL: origin }),
    ]);
    const [ann, ben, cat] = await Promise.all([
      signUpOn(annPage, origin, 'ann_', 'Ann'),
      signUpOn(benPage, origin, 'ben_', 'Ben'),
      signUpOn(catPage, origin, 'cat_', 'Cat'),
    ]);
    const created = await callServerFn(ann.page.request, origin, 'create_group', {
      title: 'Flood',
      'member_ids[0]': ben.id,
      'member_ids[1]': cat.id,
    });
    expect(created.status(), `create_group: ${await created.text()}`).toBe(200);
    const group = (await created.json()) as string;
    const topic = `conversation:${group}`;

    /** A raw socket of `member`, subscribed to the group. */
    const subscribed = async (member: Member): Promise<RawSocket> => {
      const { socket } = await openRawSocket(member.page.context(), origin);
      sockets.push(socket);
      socket.sendJson({ type: 'subscribe', topic });
      await socket.waitForJson((f) => f.topic === topic && ['subscribed', 'reset', 'error'].includes(f.type ?? ''));
      expect(socket.json().find((f) => f.topic === topic)?.type, `${member.account.username} subscribes`).toBe('subscribed');
      return socket;
    };

    // Ben reads normally; Cat's sockets subscribe, then stop reading.
    const benSocket = await subscribed(ben);
    const benEvents = new MessageEvents(benSocket);
    const slow: RawSocket[] = [];
    for (let i = 0; i < SLOW_SOCKETS; i++) {
      const socket = await subscribed(cat);
      socket.pause();
      slow.push(socket);
    }

    // Warm-up: every code path, pool connection and allocator arena in use before the baseline.
    const sentAt = new Map<string, number>();
    const warmUp = await sendMany(ann.page, origin, group, 'warm-', WARM_UP, floodBody, sentAt);
    expect(warmUp.failures, 'warm-up sends').toEqual([]);
    await expect
      .poll(() => benEvents.count('warm-'), { message: 'Ben got the warm-up messages', timeout: 30_000 })
      .toBe(WARM_UP);
    await sleep(500);
    const baseline = s.rssKiB();

    // The flood, with the server's RSS sampled throughout.
    const samples: number[] = [];
    sampler = setInterval(() => {
      try {
        samples.push(s.rssKiB());
      } catch {
        // The server is gone; the assertions below will say so.
      }
    }, 200);
    const floodStart = performance.now();
    const flood = await sendMany(ann.page, origin, group, 'flood-', FLOOD, floodBody, sentAt);
    const floodSeconds = (performance.now() - floodStart) / 1000;
    expect(flood.failures, 'every send of the flood is answered 200').toEqual([]);

    // Ben got every message of the flood once, in seq order, with no gap, and was never cut off.
    await expect
      .poll(() => benEvents.count('flood-'), { message: 'Ben got every message of the flood', timeout: 30_000 })
      .toBeGreaterThanOrEqual(FLOOD);
    samples.push(s.rssKiB());
    clearInterval(sampler);
    sampler = undefined;

    expect(benSocket.closeFrame, 'Ben was never sent a close frame').toBeUndefined();
    expect(benSocket.ended, "Ben's connection is still up").toBe(false);
    const benFlood = benEvents.update().messages.filter((m) => m.message.client_msg_id.startsWith('flood-'));
    const answered = flood.answers as Message[];
    expect(benFlood.length, 'each message of the flood reached Ben once').toBe(FLOOD);
    expect(new Set(benFlood.map((m) => m.message.id)).size, 'no message reached Ben twice').toBe(FLOOD);
    const benSeqs = benFlood.map((m) => m.message.seq);
    const firstFloodSeq = Math.min(...answered.map((m) => m.seq));
    const floodSeqs = Array.from({ length: FLOOD }, (_, i) => firstFloodSeq + i);
    expect([...benSeqs].sort((a, b) => a - b), 'Ben got every seq of the flood, with no gap').toEqual(floodSeqs);
    const outOfOrder = benSeqs.filter((seq, i) => i > 0 && seq < benSeqs[i - 1]);
    note('Ben: events that came after a higher seq', `${outOfOrder.length} of ${FLOOD}`);
    // Soft: the rest of the test still runs (and reports) when only the order is wrong.
    expect.soft(benSeqs, 'Ben got the flood in seq order').toEqual(floodSeqs);
    const answeredBySeq = new Map(answered.map((m) => [m.seq, m]));
    for (const { message } of benFlood) {
      const sent = answeredBySeq.get(message.seq);
      expect(
        sent && message.id === sent.id && message.body === sent.body && message.client_msg_id === sent.client_msg_id,
        `Ben's copy of seq ${message.seq} is the message the server answered`,
      ).toBe(true);
    }
    // Ben still talks to the server: a ping is answered after everything queued before it.
    const pongsBefore = benEvents.update().others.filter((f) => f.type === 'pong').length;
    benSocket.sendJson({ type: 'ping' });
    await expect
      .poll(() => benEvents.update().others.filter((f) => f.type === 'pong').length, { message: 'Ben gets a pong' })
      .toBe(pongsBefore + 1);

    // Memory: what the server would hold if it queued every frame for every paused socket.
    const frameBytes = benFlood.reduce((sum, m) => sum + m.bytes, 0) / FLOOD;
    const unboundedKiB = Math.round((SLOW_SOCKETS * FLOOD * frameBytes) / 1024);
    const sharedKiB = Math.round((FLOOD * frameBytes) / 1024);
    const peak = Math.max(...samples);
    const growth = peak - baseline;
    note('flood', `${FLOOD} messages of ${BODY_CHARS} chars, ${SENDERS} at a time, in ${floodSeconds.toFixed(1)} s`);
    note(
      'server RSS',
      `baseline ${baseline} KiB, peak during the flood ${peak} KiB (${samples.length} samples), growth ${growth} KiB`,
    );
    note(
      'unbounded queues would hold',
      `${unboundedKiB} KiB (${SLOW_SOCKETS} paused sockets x ${FLOOD} frames x ${Math.round(frameBytes)} B); ` +
        `the flood's frames once: ${sharedKiB} KiB`,
    );
    expect(growth, `server RSS growth (KiB) vs ${unboundedKiB} KiB unbounded queues would hold`).toBeLessThan(
      unboundedKiB / 4,
    );
    // Queues share each frame (one Arc per event), so even unbounded ones would hold the flood
    // only once; bounded ones hold at most the last 256 frames at any moment (~1 MB here).
    expect(growth, `server RSS growth (KiB) vs ${sharedKiB} KiB, the flood's frames held once`).toBeLessThan(
      sharedKiB,
    );

    // Ben's latency, for the record only.
    const latencies = benFlood
      .map((m) => m.at - (sentAt.get(m.message.client_msg_id) ?? NaN))
      .filter((ms) => Number.isFinite(ms));
    note('Ben time-to-receive during the flood', `median ${median(latencies).toFixed(1)} ms (not asserted)`);

    // Each paused socket, once it reads again, finds it was cut off: a 4008 close frame, or
    // (when even that could not be written) just the end of the connection, having got
    // fewer than all the messages.
    for (const socket of slow) socket.resume();
    await Promise.all(slow.map((socket) => socket.waitForEnd(30_000)));
    const slowCounts: string[] = [];
    const slowEvents = slow.map((socket) => new MessageEvents(socket).update());
    slow.forEach((socket, i) => {
      const got = slowEvents[i].count('flood-');
      const all = slowEvents[i].messages;
      slowCounts.push(
        `${got} (of ${all.length} in all, up to seq ${Math.max(0, ...all.map((m) => m.message.seq))}; ` +
          `${socket.closeFrame ? `close ${socket.closeFrame.code}` : 'no close frame'}` +
          `${socket.error ? `, ${socket.error.message}` : ''})`,
      );
      expect(socket.ended, `paused socket ${i} was cut off`).toBe(true);
      if (socket.closeFrame) expect(socket.closeFrame.code, `paused socket ${i}'s close code`).toBe(CLOSE_TOO_SLOW);
      expect(got, `paused socket ${i} got fewer than all ${FLOOD} messages`).toBeLessThan(FLOOD);
    });
    note('flood messages each paused socket got before it was cut off', slowCounts.join(', '));

    // Recovery: one of Cat's sockets resumes from the newest message it holds without a gap
    // and fetches the rest, a page at a time.
    const heldBySeq = new Map(slowEvents[0].messages.map((m) => [m.message.seq, m.message]));
    expect(heldBySeq.size, 'the paused socket got each message once').toBe(slowEvents[0].messages.length);
    expect(heldBySeq.has(1), 'the paused socket got the conversation from its first message').toBe(true);
    // The newest seq up to which it holds every message.
    let contiguous = 1;
    while (heldBySeq.has(contiguous + 1)) contiguous++;
    const resumeFrom = heldBySeq.get(contiguous)!;
    const held = Array.from({ length: contiguous }, (_, i) => heldBySeq.get(i + 1)!);
    const cookie = await sessionCookie(cat.page.context(), origin);
    const again = await RawSocket.connect(origin, { cookie });
    sockets.push(again);
    expect(again.status, `Cat's new socket after the cut-off: ${again.body}`).toBe(101);
    await again.waitForJson((f) => f.type === 'hello');
    again.sendJson({ type: 'subscribe', topic, resume: { seq: resumeFrom.seq, message_id: resumeFrom.id } });
    const answer = await again.waitForJson(
      (f) => f.topic === topic && ['subscribed', 'reset', 'error'].includes(f.type ?? ''),
    );
    expect(answer.type, `resume from seq ${resumeFrom.seq}`).toBe('subscribed');

    // A message sent now reaches the resumed socket live.
    const live = await callServerFn(ann.page.request, origin, 'send_message', {
      conversation_id: group,
      client_msg_id: 'after-recovery',
      body: 'after the recovery',
    });
    expect(live.status(), 'the message after the recovery is sent').toBe(200);
    const liveMessage = (await live.json()) as Message;
    const againEvents = new MessageEvents(again);
    await expect
      .poll(() => againEvents.count('after-recovery'), { message: 'the resumed socket gets new messages live' })
      .toBe(1);

    const fetched: Message[] = [];
    for (let after = resumeFrom.seq, pages = 0; ; pages++) {
      expect(pages, 'messages_after pages end').toBeLessThan(FLOOD);
      const page = await callServerFn(cat.page.request, origin, 'messages_after', {
        conversation_id: group,
        after_seq: after,
      });
      expect(page.status(), `messages_after ${after}`).toBe(200);
      const rows = (await page.json()) as Message[];
      fetched.push(...rows);
      if (rows.length < PAGE_SIZE) break;
      after = rows[rows.length - 1].seq;
    }
    const recovered = [...held, ...fetched];
    const truth = dbMessages(s.dbPath, group);
    expect(truth.length, 'the database holds the warm-up, the flood and the last message').toBe(WARM_UP + FLOOD + 1);
    expect(
      recovered.map((m) => m.seq),
      'what the socket got plus what was fetched: every seq once, in order',
    ).toEqual(truth.map((m) => m.seq));
    expect(recovered.map((m) => m.id), 'the same messages as the database').toEqual(truth.map((m) => m.id));
    expect(
      recovered.every((m, i) => sha256(m.body) === truth[i].body_sha256 && m.client_msg_id === truth[i].client_msg_id),
      'the same bodies as the database',
    ).toBe(true);
    expect(truth[truth.length - 1].id, 'the live message is the newest').toBe(liveMessage.id);
    note('recovery', `resumed from seq ${resumeFrom.seq}, fetched ${fetched.length} messages`);

    // The cut-off sockets no longer count against Cat's cap: with the resumed socket open,
    // Cat can open up to the cap again, and no more. (Each is greeted before the next opens:
    // the server counts a socket from when it says hello.)
    for (let i = 1; i < MAX_CONNECTIONS; i++) {
      const socket = await RawSocket.connect(origin, { cookie });
      sockets.push(socket);
      expect(socket.status, `Cat's socket ${i + 1} of ${MAX_CONNECTIONS}: ${socket.body}`).toBe(101);
      await socket.waitForJson((f) => f.type === 'hello');
    }
    const overCap = await RawSocket.connect(origin, { cookie });
    sockets.push(overCap);
    expect(overCap.status, 'one socket over the cap is refused').toBe(429);
  } finally {
    if (sampler) clearInterval(sampler);
    for (const socket of sockets) socket.destroy();
    await s.dispose();
  }
});
