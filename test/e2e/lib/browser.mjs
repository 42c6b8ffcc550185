// Headless Chromium for the console's browser tests: Debian's `chromium`
// package driven by puppeteer-core (no browser download). Every page's
// console errors and failed requests are kept, and screenshots are saved
// under test/e2e/artifacts/ (gitignored).

import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where screenshots go. */
export const ARTIFACTS = path.resolve(here, '..', 'artifacts');

/** The browser executable: HUBD_CHROMIUM, else Debian's chromium. */
export const CHROMIUM = process.env.HUBD_CHROMIUM || '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Launches Chromium with a fresh profile. Resolves { browser, close }.
 */
export async function launchBrowser() {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (scripts/test.sh does) or set HUBD_CHROMIUM`);
  }
  const profile = await mkdtemp(path.join(tmpdir(), 'hubd-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, `--user-data-dir=${profile}`],
    defaultViewport: { width: 1280, height: 900 },
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A page in its own browser context (its own sessionStorage: one user).
 * page.errors collects uncaught errors and console errors.
 */
export async function newUserPage(browser) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  openPages.add(page);
  page.on('close', () => openPages.delete(page));
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(`console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) page.errors.push(`http ${res.status()}: ${res.url()}`);
  });
  page.setDefaultTimeout(10_000);
  return page;
}

const openPages = new Set();

/** Screenshots every open page as artifacts/<prefix>-<n>.png (after a failure). */
export async function screenshotAll(prefix) {
  let n = 0;
  for (const p of openPages) {
    await screenshot(p, `${prefix}-${++n}`).catch(() => {});
  }
}

/** Closes the browser context of every open page. */
export async function closeAll() {
  for (const p of [...openPages]) await p.browserContext().close().catch(() => {});
  openPages.clear();
}

/** Saves a full-page screenshot as artifacts/<name>.png; resolves its path. */
export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Saves a screenshot of the first element matching selector as
 * artifacts/<name>.png (the pictures of docs/console.md are these).
 */
export async function elementShot(page, selector, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const el = await page.waitForSelector(selector);
  const file = path.join(ARTIFACTS, `${name}.png`);
  await el.screenshot({ path: file });
  return file;
}

/** Resolves once the page's body text contains text. */
export async function waitForText(page, selector, text, timeout = 10_000) {
  await page.waitForFunction(
    (sel, t) => [...document.querySelectorAll(sel)].some((e) => e.textContent.includes(t)),
    { timeout },
    selector,
    text,
  );
}
