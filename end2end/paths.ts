// Where the end-to-end harness finds the things `cargo leptos build` produces.
// Shared by global-setup.ts (checks they exist) and fixtures.ts (runs them).
import path from 'node:path';

/** The Rust crate's root: this folder's parent. */
export const repoRoot = path.resolve(__dirname, '..');

/**
 * cargo-leptos `site-root`: the server serves `/pkg/*` from here. NATTER_SITE_ROOT overrides
 * it (relative paths are taken from the repo root), for a site unpacked from a release bundle.
 */
export const siteRoot = process.env.NATTER_SITE_ROOT
  ? path.resolve(repoRoot, process.env.NATTER_SITE_ROOT)
  : path.join(repoRoot, 'target', 'site');

/** cargo-leptos `site-pkg-dir` under the site root: the WASM, JS and CSS bundle. */
export const pkgDir = path.join(siteRoot, 'pkg');

/** Human-facing screenshots written by some tests (not compared against anything). */
export const screenshotDir = path.join(__dirname, 'screenshots');

/** The SSR server binary; NATTER_SERVER_BIN overrides it (relative paths are taken from the repo root). */
export function serverBinary(): string {
  const override = process.env.NATTER_SERVER_BIN;
  return override ? path.resolve(repoRoot, override) : path.join(repoRoot, 'target', 'debug', 'natter');
}
