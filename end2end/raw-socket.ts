/**
 * A tiny WebSocket client written on `node:net`, for tests that must say things to the
 * server that no browser would: a text frame that is not UTF-8, a frame over the size
 * limit, an unmasked frame, a handshake with chosen headers, or a client that stops
 * reading (a slow consumer). It does the HTTP/1.1 upgrade itself, writes masked frames
 * by hand and parses what the server sends (text, binary, ping, pong, close).
 *
 * Usage:
 *
 *     const cookie = await sessionCookie(page.context(), baseURL);
 *     const socket = await RawSocket.connect(baseURL, { cookie });
 *     expect(socket.status).toBe(101);          // or 401 / 403 / 429, see `socket.body`
 *     await socket.waitForJson((f) => f.type === 'hello');
 *     socket.sendJson({ type: 'ping' });
 *     socket.sendText(Buffer.from([0xff]));     // raw bytes in a text frame
 *     const { code, reason } = await socket.waitForClose();
 *     socket.destroy();                          // always, e.g. in a finally
 *
 * `openRawSocket(context, baseURL)` does the first three lines and checks the hello.
 *
 * The client answers the server's pings with pongs and a server's close frame with a
 * close frame (as RFC 6455 asks), except while paused: `pause()` stops reading from the
 * TCP socket altogether (socket.pause()), so the server's writes back up as they would
 * for a tab that hangs; `resume()` reads again.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { BrowserContext } from '@playwright/test';

/** Frame opcodes (RFC 6455 section 5.2). */
export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A frame as it came off the wire (continuation frames already joined). */
export type WireFrame = { opcode: number; payload: Buffer };

/** The server's close frame: its code (null if the frame carried none) and reason. */
export type CloseInfo = { code: number | null; reason: string };

/** A JSON frame the server sent (`{type: "hello" | "pong" | "error" | ...}`). */
export type JsonFrame = { type?: string; code?: string; message?: string; topic?: string; [key: string]: unknown };

export type ConnectOptions = {
  /** The Cookie header, e.g. `natter_session=...` (see `sessionCookie`). */
  cookie?: string;
  /** The Origin header; defaults to the server's own origin. `null` sends none. */
  origin?: string | null;
  /** More headers, or overrides of the handshake's own (Host, Upgrade, ...). */
  headers?: Record<string, string>;
  /** How long the handshake may take; default 10 s. */
  timeoutMs?: number;
};

type Waiter = () => boolean;

export class RawSocket {
  /** HTTP status of the handshake: 101 when upgraded, else the refusal (401, 403, 429, ...). */
  status = 0;
  /** The status line's reason phrase. */
  statusText = '';
  /** Response headers of the handshake, lower-case names. */
  headers: Record<string, string> = {};
  /** The response body of a refused handshake (e.g. "Too many open tabs: ..."); '' when upgraded. */
  body = '';
  /** True when the server's Sec-WebSocket-Accept matched the key that was sent. */
  acceptValid = false;
  /** Every frame received, in order (text, binary, ping, pong, close). */
  readonly frames: WireFrame[] = [];
  /** The text frames received, decoded as UTF-8, in order. */
  readonly texts: string[] = [];
  /** When each of `texts` was read off the socket (`performance.now()`, ms), same index. */
  readonly textTimes: number[] = [];
  /** The server's close frame, once it came. */
  closeFrame?: CloseInfo;
  /** True once the TCP connection has ended (either side, or an error). */
  ended = false;
  /** A socket error, if one happened (ECONNRESET, EPIPE...). */
  error?: Error;

  private readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private upgraded = false;
  private handshakeDone = false;
  private sentClose = false;
  private paused = false;
  private fragments: { opcode: number; parts: Buffer[] } | null = null;
  private waiters: Waiter[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /**
   * Opens a TCP connection to the server and performs the WebSocket handshake on
   * `/ws`. Resolves once the server has answered, upgraded or not: check `status`.
   */
  static connect(baseURL: string, options: ConnectOptions = {}): Promise<RawSocket> {
    const url = new URL(baseURL);
    const port = Number(url.port || 80);
    const key = randomBytes(16).toString('base64');
    const headers: Record<string, string> = {
      Host: url.host,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
    };
    const origin = options.origin === undefined ? url.origin : options.origin;
    if (origin !== null) headers.Origin = origin;
    if (options.cookie) headers.Cookie = options.cookie;
    Object.assign(headers, options.headers ?? {});
    const request =
      `GET /ws HTTP/1.1\r\n` +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      '\r\n';

    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: url.hostname, port });
      const raw = new RawSocket(socket);
      const timeout = options.timeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no complete answer to the WebSocket handshake within ${timeout} ms`));
      }, timeout);
      raw.onHandshake = (error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else {
          raw.acceptValid =
            raw.status === 101 &&
            raw.headers['sec-websocket-accept'] === createHash('sha1').update(key + WS_GUID).digest('base64');
          resolve(raw);
        }
      };
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => raw.onData(chunk));
      socket.on('error', (error) => {
        raw.error = error;
        raw.onEnd();
      });
      socket.on('close', () => raw.onEnd());
    });
  }

  /** True once the handshake succeeded (101). */
  get open(): boolean {
    return this.upgraded && !this.ended && !this.closeFrame;
  }

  /** The text frames parsed as JSON (a text that is not JSON appears as `{type: '(not json)', raw}`). */
  json(): JsonFrame[] {
    return this.texts.map((text) => {
      try {
        return JSON.parse(text) as JsonFrame;
      } catch {
        return { type: '(not json)', raw: text };
      }
    });
  }

  // -------------------------------------------------------------------------
  // Sending
  // -------------------------------------------------------------------------

  /**
   * Writes one frame: FIN bit and opcode, the mask bit, the length (7 bits, 16 or 64),
   * a random 4-byte masking key and the masked payload. `fin: false` starts a
   * fragmented message; `mask: false` breaks the protocol on purpose (a client must mask).
   */
  sendFrame(opcode: number, payload: Buffer | string, options: { fin?: boolean; mask?: boolean } = {}): void {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const fin = options.fin ?? true;
    const masked = options.mask ?? true;
    let header: Buffer;
    if (data.length < 126) {
      header = Buffer.alloc(2);
      header[1] = data.length;
    } else if (data.length < 65536) {
      header = Buffer.alloc(4);
      header[1] = 126;
      header.writeUInt16BE(data.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(data.length), 2);
    }
    header[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
    if (!masked) {
      this.write(Buffer.concat([header, data]));
      return;
    }
    header[1] |= 0x80;
    const maskKey = randomBytes(4);
    const body = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) body[i] = data[i] ^ maskKey[i % 4];
    this.write(Buffer.concat([header, maskKey, body]));
  }

  /** A text frame: a string (sent as UTF-8) or exact bytes (which need not be UTF-8). */
  sendText(text: string | Buffer): void {
    this.sendFrame(OPCODE.text, text);
  }

  /** A text frame holding `JSON.stringify(value)`. */
  sendJson(value: unknown): void {
    this.sendText(JSON.stringify(value));
  }

  sendBinary(data: Buffer): void {
    this.sendFrame(OPCODE.binary, data);
  }

  /** A close frame with a code and reason (no code at all if `code` is undefined). */
  sendClose(code?: number, reason = ''): void {
    let payload = Buffer.alloc(0);
    if (code !== undefined) {
      payload = Buffer.alloc(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2, 'utf8');
    }
    this.sentClose = true;
    this.sendFrame(OPCODE.close, payload);
  }

  /**
   * Closes cleanly: sends a close frame, waits (up to `timeoutMs`) for the server's close
   * frame or the end of the connection, then destroys the TCP socket.
   */
  async close(code = 1000, timeoutMs = 5_000): Promise<void> {
    if (this.upgraded && !this.ended) {
      if (!this.sentClose) this.sendClose(code);
      if (this.paused) this.resume();
      await this.waitUntil(() => this.ended || this.closeFrame !== undefined, timeoutMs).catch(() => undefined);
    }
    this.destroy();
  }

  /** Drops the TCP connection at once (no close frame). Safe to call more than once. */
  destroy(): void {
    this.socket.destroy();
    this.ended = true;
    this.notify();
  }

  /** Stops reading from the socket (the kernel's buffers fill up, then the server's writes wait). */
  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  /** Reads again after `pause()`. */
  resume(): void {
    this.paused = false;
    this.socket.resume();
  }

  // -------------------------------------------------------------------------
  // Waiting
  // -------------------------------------------------------------------------

  /** Resolves once `condition()` holds (checked on every frame and at the end); rejects after `timeoutMs`. */
  waitUntil(condition: () => boolean, timeoutMs = 10_000, what = 'the condition'): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`raw socket: ${what} did not happen within ${timeoutMs} ms; received ${this.describe()}`));
      }, timeoutMs);
      const waiter: Waiter = () => {
        if (!condition()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      this.waiters.push(waiter);
    });
  }

  /** The first JSON frame (from index `from` on) that matches; waits for it. */
  async waitForJson(match: (frame: JsonFrame) => boolean, timeoutMs = 10_000, from = 0): Promise<JsonFrame> {
    let found: JsonFrame | undefined;
    await this.waitUntil(
      () => {
        found = this.json().slice(from).find(match);
        return found !== undefined;
      },
      timeoutMs,
      'a matching JSON frame',
    );
    return found!;
  }

  /** The server's close frame; waits for it. Rejects if the connection ends without one. */
  async waitForClose(timeoutMs = 10_000): Promise<CloseInfo> {
    await this.waitUntil(() => this.closeFrame !== undefined || this.ended, timeoutMs, 'a close frame');
    if (!this.closeFrame) {
      throw new Error(`raw socket: the connection ended without a close frame; received ${this.describe()}`);
    }
    return this.closeFrame;
  }

  /** Resolves once the TCP connection has ended. */
  waitForEnd(timeoutMs = 10_000): Promise<void> {
    return this.waitUntil(() => this.ended, timeoutMs, 'the end of the connection');
  }

  /**
   * Sends `{type: "ping"}` and waits for its `pong`: everything the server had queued for
   * this socket before now has then arrived. Returns the JSON frames that came in between.
   * `pendingPongs`: pings already sent whose pongs may not have come yet (they are waited
   * for too, so the count is right).
   */
  async roundTrip(timeoutMs = 10_000, pendingPongs = 0): Promise<JsonFrame[]> {
    const from = this.texts.length;
    const pongs = () => this.json().filter((f) => f.type === 'pong').length;
    const before = pongs();
    this.sendJson({ type: 'ping' });
    await this.waitUntil(() => pongs() >= before + 1 + pendingPongs, timeoutMs, 'a pong');
    return this.json().slice(from);
  }

  /** A short summary for error messages. */
  describe(): string {
    const texts = this.texts.map((t) => (t.length > 200 ? `${t.slice(0, 200)}…` : t));
    return (
      `status ${this.status}, ${texts.length} text frame(s) ${JSON.stringify(texts.slice(-10))}` +
      (this.closeFrame ? `, close ${JSON.stringify(this.closeFrame)}` : '') +
      (this.ended ? ', ended' : '') +
      (this.error ? `, error ${this.error.message}` : '')
    );
  }

  // -------------------------------------------------------------------------
  // Reading
  // -------------------------------------------------------------------------

  private onHandshake: (error?: Error) => void = () => undefined;

  private write(data: Buffer): void {
    if (this.ended || this.socket.destroyed) return;
    this.socket.write(data);
  }

  private notify(): void {
    this.waiters = this.waiters.filter((waiter) => !waiter());
  }

  private onEnd(): void {
    this.ended = true;
    if (!this.handshakeDone) {
      // A refusal without Content-Length ends with the connection.
      if (this.status !== 0) this.finishRefusal();
      else {
        this.handshakeDone = true;
        this.onHandshake(this.error ?? new Error('the connection ended before the handshake was answered'));
      }
    }
    this.notify();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.handshakeDone) {
      if (this.status === 0) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
        this.buffer = this.buffer.subarray(end + 4);
        const statusLine = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(head[0] ?? '');
        if (!statusLine) {
          this.handshakeDone = true;
          this.onHandshake(new Error(`not an HTTP response: ${JSON.stringify(head[0])}`));
          this.socket.destroy();
          return;
        }
        this.status = Number(statusLine[1]);
        this.statusText = statusLine[2];
        for (const line of head.slice(1)) {
          const colon = line.indexOf(':');
          if (colon > 0) this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        if (this.status === 101) {
          this.upgraded = true;
          this.handshakeDone = true;
          this.onHandshake();
        }
      }
      if (!this.upgraded) {
        const length = Number(this.headers['content-length'] ?? NaN);
        if (!Number.isNaN(length) && this.buffer.length >= length) this.finishRefusal();
        return;
      }
    }
    this.parseFrames();
    this.notify();
  }

  private finishRefusal(): void {
    if (this.handshakeDone) return;
    this.handshakeDone = true;
    const length = Number(this.headers['content-length'] ?? NaN);
    const body = Number.isNaN(length) ? this.buffer : this.buffer.subarray(0, length);
    this.body = body.toString('utf8');
    this.buffer = Buffer.alloc(0);
    this.socket.destroy();
    this.onHandshake();
  }

  private parseFrames(): void {
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let length = b[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      let maskKey: Buffer | undefined;
      if (masked) {
        if (b.length < offset + 4) return;
        maskKey = b.subarray(offset, offset + 4);
        offset += 4;
      }
      if (b.length < offset + length) return;
      let payload = Buffer.from(b.subarray(offset, offset + length));
      if (maskKey) for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i % 4];
      this.buffer = b.subarray(offset + length);

      if (opcode === OPCODE.continuation || (!fin && opcode < 0x8)) {
        // A fragmented message: collect until FIN.
        if (opcode !== OPCODE.continuation) this.fragments = { opcode, parts: [] };
        if (!this.fragments) continue;
        this.fragments.parts.push(payload);
        if (!fin) continue;
        payload = Buffer.concat(this.fragments.parts);
        this.onFrame(this.fragments.opcode, payload);
        this.fragments = null;
        continue;
      }
      this.onFrame(opcode, payload);
    }
  }

  private onFrame(opcode: number, payload: Buffer): void {
    this.frames.push({ opcode, payload });
    switch (opcode) {
      case OPCODE.text:
        this.texts.push(payload.toString('utf8'));
        this.textTimes.push(performance.now());
        break;
      case OPCODE.ping:
        this.sendFrame(OPCODE.pong, payload);
        break;
      case OPCODE.close: {
        this.closeFrame =
          payload.length >= 2
            ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') }
            : { code: null, reason: '' };
        if (!this.sentClose) {
          // Echo the close, as RFC 6455 asks; the server then ends the connection.
          this.sentClose = true;
          this.sendFrame(OPCODE.close, payload.subarray(0, Math.min(2, payload.length)));
        }
        break;
      }
      default:
        break;
    }
  }
}

/** The Cookie header value of a browser context's cookies for `baseURL` (incl. the HttpOnly session). */
export async function sessionCookie(context: BrowserContext, baseURL: string): Promise<string> {
  const cookies = await context.cookies(baseURL);
  if (!cookies.some((c) => c.name === 'natter_session')) {
    throw new Error(`the browser context has no natter_session cookie for ${baseURL}`);
  }
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

/** The raw session token (the natter_session cookie's value) of a browser context. */
export async function sessionToken(context: BrowserContext, baseURL: string): Promise<string> {
  const cookie = (await context.cookies(baseURL)).find((c) => c.name === 'natter_session');
  if (!cookie) throw new Error(`the browser context has no natter_session cookie for ${baseURL}`);
  return cookie.value;
}

/** The database id of a session: the SHA-256 hex of its token. */
export function sessionId(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * A raw socket with the browser context's session, upgraded and greeted: throws unless the
 * server answered 101 and then sent `hello`. Returns the socket and the hello frame.
 */
export async function openRawSocket(
  context: BrowserContext,
  baseURL: string,
  options: Omit<ConnectOptions, 'cookie'> = {},
): Promise<{ socket: RawSocket; hello: JsonFrame }> {
  const socket = await RawSocket.connect(baseURL, { ...options, cookie: await sessionCookie(context, baseURL) });
  if (socket.status !== 101) {
    socket.destroy();
    throw new Error(`the WebSocket upgrade was refused: ${socket.status} ${socket.body}`);
  }
  try {
    const hello = await socket.waitForJson((f) => f.type === 'hello');
    return { socket, hello };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/**
 * The raw sockets a test opened, to destroy after it: `test.afterEach(() => sockets.destroyAll())`.
 */
export class OpenedSockets {
  readonly list: RawSocket[] = [];

  /** A socket of this context's session, upgraded and greeted (see `openRawSocket`). */
  async open(context: BrowserContext, baseURL: string): Promise<{ socket: RawSocket; hello: JsonFrame }> {
    const opening = await openRawSocket(context, baseURL);
    this.list.push(opening.socket);
    return opening;
  }

  /** A handshake with this context's cookie that may be refused: check `status`. */
  async tryUpgrade(context: BrowserContext, baseURL: string): Promise<RawSocket> {
    const socket = await RawSocket.connect(baseURL, { cookie: await sessionCookie(context, baseURL) });
    this.list.push(socket);
    return socket;
  }

  destroyAll(): void {
    for (const socket of this.list.splice(0)) socket.destroy();
  }
}
