/**
 * A Natter server that a test owns: it can kill it (SIGKILL, SIGTERM), watch it exit and
 * start it again on the same port with the same database, as an operator's supervisor
 * would. For the fault tests; ordinary tests use the worker's `server` fixture.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import {
  type ExitState,
  type NewAccount,
  callServerFn,
  expect,
  freePort,
  freshAccount,
  logTail,
  signUpViaApi,
  waitForHealthy,
  watchExit,
} from './fixtures';
import { repoRoot, serverBinary, siteRoot } from './paths';

export class ControlledServer {
  readonly dataDir: string;
  readonly dbPath: string;
  readonly logPath: string;
  port = 0;
  /** Where this server serves /metrics (a free port chosen at each start). */
  metricsPort = 0;
  private child?: ChildProcess;
  private state: ExitState = { exited: true };
  private exitedPromise: Promise<void> = Promise.resolve();
  /** How each run of the process ended ("exited with code 0", "was killed by SIGKILL"). */
  readonly exits: string[] = [];

  /**
   * `env` adds to (or overrides) the server's environment; `host` is the address it
   * listens on (the port is chosen at the first start).
   */
  constructor(
    private env: Record<string, string> = {},
    private readonly host = '127.0.0.1',
  ) {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'natter-fault-'));
    this.dbPath = path.join(this.dataDir, 'natter.db');
    this.logPath = path.join(this.dataDir, 'server.log');
  }

  /** Changes the environment of the next start (as an operator edits the unit file). */
  setEnv(env: Record<string, string>): void {
    this.env = { ...this.env, ...env };
  }

  /** The environment the server and the command line run with. */
  private environment(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      LEPTOS_SITE_ADDR: `${this.host}:${this.port}`,
      LEPTOS_SITE_ROOT: siteRoot,
      LEPTOS_SITE_PKG_DIR: 'pkg',
      LEPTOS_OUTPUT_NAME: 'natter',
      LEPTOS_ENV: 'DEV',
      NATTER_DATABASE_URL: `sqlite://${this.dbPath}`,
      NATTER_METRICS_ADDR: this.metricsPort ? `127.0.0.1:${this.metricsPort}` : '',
      NATTER_DEMO_MODE: 'true',
      // Every test signs up and calls from 127.0.0.1; the limits' own tests set them low.
      NATTER_SIGNUPS_PER_HOUR: '100000',
      NATTER_CALLS_PER_MINUTE: '1000',
      RUST_LOG: 'info',
      ...this.env,
    };
  }

  /**
   * Runs `natter <args>` on this server's database, as an operator on its machine would,
   * with `input` on its standard input, while the server goes on. Resolves with its exit
   * status and output.
   */
  cli(args: string[], input = ''): Promise<{ status: number; stdout: string; stderr: string }> {
    const child = spawn(serverBinary(), args, { cwd: repoRoot, env: this.environment() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input);
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.state.exited ? undefined : this.child?.pid;
  }

  get running(): boolean {
    return !this.state.exited;
  }

  /** Starts the server (on the same port as before, if it ran before) and waits until healthy. */
  async start(): Promise<void> {
    if (!this.state.exited) throw new Error('the server is already running');
    if (this.port === 0) this.port = await freePort();
    // The default metrics address (127.0.0.1:9464) takes one server per machine.
    this.metricsPort = await freePort();
    const logFd = fs.openSync(this.logPath, 'a');
    const child = spawn(serverBinary(), [], {
      cwd: repoRoot,
      stdio: ['ignore', logFd, logFd],
      env: this.environment(),
    });
    fs.closeSync(logFd);
    const state: ExitState = { exited: false };
    this.child = child;
    this.state = state;
    this.exitedPromise = watchExit(child, state).then(() => {
      this.exits.push(state.description ?? 'exited');
    });
    try {
      await waitForHealthy(this.baseURL, state);
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}\n--- server log ---\n${this.log()}`);
    }
  }

  /** Sends a signal; with `wait`, resolves once the process has exited. */
  async kill(signal: NodeJS.Signals, wait = true): Promise<void> {
    if (this.state.exited || !this.child) return;
    this.child.kill(signal);
    if (wait) await this.exitedPromise;
  }

  /** Resolves when the current process exits. */
  exited(): Promise<void> {
    return this.exitedPromise;
  }

  /** The server's resident memory in KiB, from /proc (Linux). */
  rssKiB(): number {
    const pid = this.pid;
    if (!pid) throw new Error('the server is not running');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (!match) throw new Error('no VmRSS in /proc status');
    return Number(match[1]);
  }

  log(): string {
    return logTail(this.logPath);
  }

  /** Stops the server (SIGTERM, then SIGKILL) and removes its data. */
  async dispose(): Promise<void> {
    if (!this.state.exited && this.child) {
      this.child.kill('SIGTERM');
      const timer = new Promise<void>((r) => setTimeout(r, 5_000));
      await Promise.race([this.exitedPromise, timer]);
      if (!this.state.exited) {
        this.child.kill('SIGKILL');
        await this.exitedPromise;
      }
    }
    if (process.env.NATTER_E2E_KEEP_DATA === '1') console.log(`[natter e2e] kept ${this.dataDir}`);
    else fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * Runs Python's sqlite3 against the server's database (the database as another program
 * sees it). `script` gets `db` (the path) in its globals; what it prints is returned.
 */
export function sqlite(dbPath: string, script: string): string {
  return execFileSync('python3', ['-c', `import sqlite3, json, sys, time\ndb = ${JSON.stringify(dbPath)}\n${script}`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/**
 * Holds the database locked for writing from another process (as a backup tool or a stuck
 * migration would) until `release()` is called. Resolves once the lock is held.
 */
export async function lockDatabase(dbPath: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn(
    'python3',
    [
      '-c',
      [
        'import sqlite3, sys',
        `c = sqlite3.connect(${JSON.stringify(dbPath)}, isolation_level=None, timeout=30)`,
        "c.execute('BEGIN EXCLUSIVE')",
        "print('locked', flush=True)",
        'sys.stdin.readline()',
        "c.execute('ROLLBACK')",
        'c.close()',
      ].join('\n'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the locking process exited early (${code})`)));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    release: async () => {
      child.stdin!.write('\n');
      await exited;
    },
  };
}

/** A person signed up on a controlled server: their account, user id and page. */
export type Member = { account: NewAccount; id: string; page: Page };

/** Signs a fresh account up through the server function in `page`'s browser context. */
export async function signUpOn(page: Page, origin: string, prefix: string, label: string): Promise<Member> {
  const account = freshAccount(prefix, label);
  await signUpViaApi(page.request, origin, account);
  const me = await callServerFn(page.request, origin, 'current_user', {});
  expect(me.status(), 'current_user after sign-up').toBe(200);
  const user = (await me.json()) as { id: string } | null;
  expect(user, 'signed in after sign-up').toBeTruthy();
  return { account, id: user!.id, page };
}
