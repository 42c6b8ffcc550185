// Helpers of the console's browser tests: a daemon serving the console
// fixture with development tokens, and page actions on the console.

import path from 'node:path';
import { FIXTURES, makeToken, startDaemon } from './harness.mjs';
import { newUserPage, waitForText } from './browser.mjs';

/** The console fixture: hub "team", room "design". */
export const CONSOLE_FIXTURE = path.join(FIXTURES, 'console');
export const HUB = 'team';
export const ROOM = 'design';

/** Starts hubd on the console fixture with console.devTokens on. */
export async function startConsoleDaemon(opts = {}) {
  return startDaemon({
    hubs: path.join(CONSOLE_FIXTURE, 'hubs'),
    records: path.join(CONSOLE_FIXTURE, 'records'),
    ...opts,
    env: { HUBD_CONSOLE__DEVTOKENS: 'true', ...(opts.env ?? {}) },
  });
}

/** The console's URL on the daemon's admin listener. */
export function consoleURL(daemon) {
  return `${daemon.adminUrl}/-/console/`;
}

/**
 * Opens the console as a user in a fresh browser context. With mint the
 * token comes from the development token form, else it is pasted.
 */
export async function openAs(browser, base, userId, { mint = false } = {}) {
  const page = await newUserPage(browser);
  await page.goto(`${base}#/hubs`);
  await page.waitForSelector('section.hub');
  if (mint) {
    await page.type('form.mint input[name=userId]', userId);
    await page.click('form.mint button[type=submit]');
  } else {
    await page.type('form.paste input[name=token]', makeToken({ userId }));
    await page.click('form.paste button[type=submit]');
  }
  await waitForText(page, '[data-testid=who]', userId);
  return page;
}

/** Goes to the room view and waits until the join is acknowledged. */
export async function joinRoom(page, base, hub = HUB, room = ROOM) {
  await page.goto(`${base}#/room/${hub}/${room}`);
  await page.waitForSelector('[data-testid=room-status][data-joined=true]');
}

/**
 * Fills the send form of a message type and submits it. values maps field
 * names to values: strings for inputs and selects, booleans for
 * checkboxes, objects and arrays (written as JSON) for JSON fields.
 */
export async function sendForm(page, type, values) {
  await page.select('[data-testid=type-select]', type);
  const form = `[data-testid="send-${type}"]`;
  await page.waitForSelector(form);
  await page.$eval(
    form,
    (f, vals) => {
      for (const [name, v] of Object.entries(vals)) {
        const el = f.elements.namedItem(name);
        if (!el) throw new Error(`no field ${name}`);
        if (el.type === 'checkbox') el.checked = Boolean(v);
        else el.value = typeof v === 'object' ? JSON.stringify(v) : String(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }
    },
    values,
  );
  // A DOM click: messages arriving meanwhile may move the button.
  await page.$eval(`${form} button[type=submit]`, (b) => b.click());
}

/** The rendered messages of the room view: { type, sender, text }. */
export async function messages(page) {
  return page.$$eval('[data-testid=messages] .msg[data-id]', (els) =>
    els.map((e) => ({ type: e.dataset.type, sender: e.dataset.sender, id: e.dataset.id, text: e.textContent })),
  );
}

/** Waits until a message of type from sender whose text includes text shows. */
export async function waitForMessage(page, type, sender, text = '') {
  await page.waitForFunction(
    (t, s, x) =>
      [...document.querySelectorAll('[data-testid=messages] .msg[data-id]')].some(
        (e) => e.dataset.type === t && e.dataset.sender === s && e.textContent.includes(x),
      ),
    {},
    type,
    sender,
    text,
  );
}
