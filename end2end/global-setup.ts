import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { pkgDir, repoRoot, serverBinary } from './paths';

/**
 * Builds the app once before any worker starts a server.
 *
 * Set NATTER_E2E_SKIP_BUILD=1 to reuse an existing build (for example when CI
 * built it in an earlier step, or when iterating on the tests alone).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.NATTER_E2E_SKIP_BUILD !== '1') {
    console.log(`[natter e2e] cargo leptos build (in ${repoRoot})`);
    const result = spawnSync('cargo', ['leptos', 'build'], { cwd: repoRoot, stdio: 'inherit' });
    if (result.error) {
      throw new Error(`Could not run \`cargo leptos build\`: ${result.error.message}. Is cargo-leptos installed?`);
    }
    if (result.status !== 0) {
      const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.status}`;
      throw new Error(`\`cargo leptos build\` ${how}; see its output above.`);
    }
  }

  const bin = serverBinary();
  if (!isFile(bin)) {
    throw new Error(
      `The Natter server binary is missing at ${bin}. ` +
        'Run `cargo leptos build` in the repo root, or point NATTER_SERVER_BIN at the binary.',
    );
  }
  if (!isDirectory(pkgDir)) {
    throw new Error(
      `The client bundle directory is missing at ${pkgDir}. ` +
        'Run `cargo leptos build` in the repo root (it writes the WASM/JS/CSS there).',
    );
  }
}

function isFile(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

function isDirectory(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
