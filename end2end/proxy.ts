/**
 * Natter behind a real TLS reverse proxy: Debian's nginx, run by the tests themselves in a
 * temporary folder with a certificate made for the occasion, configured by the site file
 * operators install (deploy/nginx.conf) with only its name, ports and paths replaced.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { type ExitState, freePort, watchExit } from './fixtures';
import { repoRoot } from './paths';

/** The site file the tests run, as README's "Running in production" installs it. */
export const nginxSiteTemplate = path.join(repoRoot, 'deploy', 'nginx.conf');

/** nginx lives in /usr/sbin, which is not on an ordinary user's PATH; NATTER_NGINX overrides it. */
function nginxBinary(): string {
  if (process.env.NATTER_NGINX) return process.env.NATTER_NGINX;
  return fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
}

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

/**
 * `text` with each key of `replacements` replaced by its value, everywhere. A key that is
 * not there throws: the template changed, and the test would otherwise run something else
 * than it says.
 */
export function fillTemplate(text: string, replacements: Record<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(replacements)) {
    if (!out.includes(from)) throw new Error(`the nginx site template no longer contains ${JSON.stringify(from)}`);
    out = out.split(from).join(to);
  }
  return out;
}

/** A self-signed certificate for localhost and 127.0.0.1, valid for a day. */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', key, '-out', cert,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 },
  );
  return { cert, key };
}

export type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/**
 * One https request to the proxy, from the loopback address `localAddress` (127.0.0.2,
 * 127.0.0.3, ...: on Linux every 127.x.y.z is this machine, so nginx sees each as another
 * client). The certificate is self-signed, so it is not checked. Each request has its own
 * connection: a kept-alive one would carry its address into the next request.
 */
export function proxyRequest(
  port: number,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        method: options.method ?? 'GET',
        path: options.path,
        localAddress: options.localAddress,
        rejectUnauthorized: false,
        agent: false,
        headers: { Host: `localhost:${port}`, ...options.headers },
        timeout: 30_000,
      },
      (response) => {
        let body = '';
        response.on('data', (d: Buffer) => (body += d.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer to ${options.path} within 30 s`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** nginx in front of a Natter server on `upstreamPort`, answering https on `port`. */
export class TlsProxy {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly state: ExitState,
    private readonly exited: Promise<void>,
    private readonly logPath: string,
  ) {}

  /** The address people type: the origin Natter's `public_url` must name. */
  get origin(): string {
    return `https://localhost:${this.port}`;
  }

  /**
   * Starts nginx on `port` (chosen beforehand: Natter's `public_url` must name it before
   * either starts) in front of 127.0.0.1:`upstreamPort`, and waits until a request passes
   * through it to Natter.
   */
  static async start(port: number, upstreamPort: number): Promise<TlsProxy> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natter-nginx-'));
    try {
      const { cert, key } = makeCertificate(dir);
      const httpPort = await freePort();
      const site = fillTemplate(fs.readFileSync(nginxSiteTemplate, 'utf8'), {
        'server_name chat.example.com;': 'server_name localhost;',
        'listen 80;': `listen 127.0.0.1:${httpPort};`,
        'listen [::]:80;': '',
        'listen 443 ssl http2;': `listen 127.0.0.1:${port} ssl http2;`,
        'listen [::]:443 ssl http2;': '',
        '/etc/letsencrypt/live/chat.example.com/fullchain.pem': cert,
        '/etc/letsencrypt/live/chat.example.com/privkey.pem': key,
        'server 127.0.0.1:3000;': `server 127.0.0.1:${upstreamPort};`,
      });
      fs.writeFileSync(path.join(dir, 'natter-site.conf'), site);
      // What Debian's /etc/nginx/nginx.conf would give around the site, with every file
      // nginx writes kept in this folder, so it runs as any user beside a system nginx.
      // As root, nginx would hand its workers to "nobody", who cannot use this folder.
      const user = process.getuid?.() === 0 ? `user ${os.userInfo().username};\n` : '';
      const main = [
        user + 'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        'error_log stderr;',
        'events { worker_connections 512; }',
        'http {',
        `    client_body_temp_path ${dir}/client_body;`,
        `    proxy_temp_path ${dir}/proxy;`,
        `    fastcgi_temp_path ${dir}/fastcgi;`,
        `    uwsgi_temp_path ${dir}/uwsgi;`,
        `    scgi_temp_path ${dir}/scgi;`,
        `    access_log ${dir}/access.log;`,
        `    include ${dir}/natter-site.conf;`,
        '}',
        '',
      ].join('\n');
      const conf = path.join(dir, 'nginx.conf');
      fs.writeFileSync(conf, main);

      const logPath = path.join(dir, 'nginx.log');
      const logFd = fs.openSync(logPath, 'a');
      const child = spawn(nginxBinary(), ['-e', 'stderr', '-p', dir, '-c', conf, '-g', 'daemon off;'], {
        stdio: ['ignore', logFd, logFd],
      });
      fs.closeSync(logFd);
      const state: ExitState = { exited: false };
      const exited = watchExit(child, state);
      const proxy = new TlsProxy(dir, port, child, state, exited, logPath);
      try {
        await proxy.waitUntilPassing();
      } catch (error) {
        const log = proxy.log();
        await proxy.stop();
        throw new Error(`${(error as Error).message}\n--- nginx ---\n${log}`);
      }
      return proxy;
    } catch (error) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Polls /healthz through nginx until Natter answers it. */
  private async waitUntilPassing(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (this.state.exited) throw new Error(`nginx ${this.state.description} before answering`);
      try {
        const answer = await proxyRequest(this.port, { path: '/healthz' });
        if (answer.status === 200) return;
        last = `${answer.status} ${answer.body.slice(0, 200)}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`GET ${this.origin}/healthz through nginx did not answer 200 within 30 s (last: ${last})`);
  }

  /** nginx's own messages (errors and warnings). */
  log(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8').trim() || '(empty)';
    } catch {
      return '(no log)';
    }
  }

  /**
   * Stops nginx and removes its folder. SIGTERM, not a graceful SIGQUIT: that would wait
   * for every open WebSocket to end.
   */
  async stop(): Promise<void> {
    if (!this.state.exited) {
      this.child.kill('SIGTERM');
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
      if (!this.state.exited) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
