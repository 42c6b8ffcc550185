// The web console in headless Chromium (Debian's chromium driven by
// puppeteer-core): two users in one room exchange every built-in message
// type and a custom one; a wrong field shows the server's error beside it;
// a moderator approves a pending message; a broken reload shows its errors.
// Screenshots go to test/e2e/artifacts/.

import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { closeAll, elementShot, launchBrowser, screenshot, screenshotAll, waitForText } from './lib/browser.mjs';
import {
  consoleURL,
  joinRoom,
  messages,
  openAs,
  sendForm,
  startConsoleDaemon,
  waitForMessage,
} from './lib/console.mjs';
import { connect, copyFixture, emitWithAck, makeToken, until } from './lib/harness.mjs';

const svg = (fill, label) =>
  `data:image/svg+xml,${encodeURIComponent(
    `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="120" height="80" rx="8" fill="${fill}"/>` +
      `<text x="60" y="46" font-size="16" text-anchor="middle" fill="#fff">${label}</text></svg>`,
  )}`;

/** One send per built-in type a client may send (system comes from the server). */
const BUILTINS = [
  ['text', { body: 'Morning! Mockups are in.' }, 'Mockups are in'],
  ['image', { mediaUrl: svg('#2f6fde', 'mockup'), caption: 'Home screen v2', width: 120, height: 80 }, 'Home screen v2'],
  ['video', { mediaUrl: 'https://media.example.com/walkthrough.mp4', caption: 'Walkthrough', duration: 42.5 }, 'Walkthrough'],
  ['audio', { mediaUrl: 'https://media.example.com/note.ogg', duration: 3.2, waveform: [0.1, 0.6, 0.9, 0.4, 0.7, 0.2] }, '3.2 s'],
  ['document', { mediaUrl: 'https://files.example.com/spec.pdf', fileName: 'spec.pdf', fileSize: 48213, mimeType: 'application/pdf' }, 'spec.pdf'],
  ['sticker', { stickerUrl: svg('#e0a800', '★'), stickerPackId: 'shapes' }, 'shapes'],
  ['contact', { contactName: 'Carol Diaz', contactPhone: '+1 555 0100', contactUserId: 'carol' }, 'Carol Diaz'],
  ['location', { lat: 48.8584, lng: 2.2945, label: 'Eiffel Tower', address: 'Champ de Mars, Paris' }, '48.85840, 2.29450'],
];

let hubd;
let browser;
let closeBrowser;
let base;

before(async () => {
  hubd = await startConsoleDaemon();
  base = consoleURL(hubd);
  ({ browser, close: closeBrowser } = await launchBrowser());
});

after(async () => {
  await closeBrowser?.();
  await hubd?.close();
});

/** A test that screenshots every open page when it fails. */
function browserTest(name, fn) {
  test(name, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      await screenshotAll(`failed-${name.replace(/\W+/g, '-').slice(0, 40)}`);
      throw err;
    } finally {
      await closeAll();
    }
  });
}

/** Fails on page errors, except those matching one of the allowed patterns. */
function assertNoPageErrors(pages, allowed = []) {
  for (const p of pages) {
    const unexpected = p.errors.filter((e) => !allowed.some((re) => re.test(e)));
    assert.deepEqual(unexpected, [], 'the page logged errors');
  }
}

browserTest('two users exchange every built-in message type and a custom one', async () => {
  const alice = await openAs(browser, base, 'alice');
  const bob = await openAs(browser, base, 'bob', { mint: true });
  await joinRoom(alice, base);
  await joinRoom(bob, base);
  await waitForText(alice, '[data-testid=presence]', 'bob');

  // Alice sends every built-in type from the generated forms.
  for (const [type, content, shows] of BUILTINS) {
    await sendForm(alice, type, content);
    await waitForMessage(bob, type, 'alice', shows);
  }
  const img = await bob.$eval('.msg[data-type=image] img', (e) => ({ src: e.src, w: e.naturalWidth }));
  assert.ok(img.src.startsWith('data:image/svg+xml'), img.src);
  assert.ok(img.w > 0, 'the image is rendered');
  assert.equal(await bob.$eval('.msg[data-type=location] [data-testid=coords]', (e) => e.textContent), '48.85840, 2.29450');

  // Bob answers with the custom type; its handler adds a system message.
  await sendForm(bob, 'poll', {
    question: 'Ship on Friday?', options: ['yes', 'no'], multipleChoice: true,
    visibility: 'anonymous', closesAt: '2026-12-24T18:00',
  });
  await waitForMessage(alice, 'poll', 'bob', 'Ship on Friday?');
  // The sent form is cleared back to the spec's defaults.
  await bob.waitForFunction(() => document.querySelector('[data-testid=send-poll] input[name=question]').value === '');
  assert.equal(await bob.$eval('[data-testid=send-poll] select[name=visibility]', (e) => e.value), 'public');
  assert.equal(await bob.$eval('[data-testid=send-poll] input[name=multipleChoice]', (e) => e.checked), false);
  const poll = (await messages(alice)).find((m) => m.type === 'poll');
  assert.match(poll.text, /visibility\s*anonymous/);
  assert.match(poll.text, /multipleChoice\s*yes/);
  await waitForMessage(alice, 'system', 'system', 'pollOpened');
  await waitForMessage(bob, 'system', 'system', 'pollOpened');

  // Replies and reactions.
  const aliceText = (await messages(bob)).find((m) => m.type === 'text');
  await bob.select('[data-testid=type-select]', 'text');
  await bob.click(`.msg[data-id="${aliceText.id}"] .actions button:first-child`); // Reply
  await bob.type('[data-testid=send-text] input[name=body]', 'Looks great');
  await waitForText(alice, '[data-testid=indicator]', 'bob is typing');
  await bob.click('[data-testid=send-text] button[type=submit]');
  await waitForMessage(alice, 'text', 'bob', 'Looks great');
  await waitForText(alice, '.msg[data-sender=bob] .reply', 'Mockups are in');
  await bob.click(`.msg[data-id="${aliceText.id}"] button[title="react ❤️"]`);
  await waitForText(alice, `.msg[data-id="${aliceText.id}"] .reactions`, '❤️ 1');

  // Edits and deletions.
  // The edit form is the type's form filled with the content; the server's
  // field errors show beside the fields there too.
  const contact = (await messages(alice)).find((m) => m.type === 'contact');
  await alice.$$eval(`.msg[data-id="${contact.id}"] .actions button`, (bs) => bs.find((b) => b.textContent === 'Edit').click());
  const edit = '[data-testid=edit-form]';
  assert.equal(await alice.$eval(`${edit} input[name=contactName]`, (e) => e.value), 'Carol Diaz');
  const setField = (name, v) => alice.$eval(`${edit} input[name=${name}]`, (e, x) => { e.value = x; }, v);
  await setField('contactName', '');
  await alice.$eval(`${edit} button[type=submit]`, (b) => b.click());
  await waitForText(alice, `${edit} [data-error-for=contactName]`, 'required');
  await setField('contactName', 'Carol Díaz');
  await setField('contactUserId', '');
  await alice.$eval(`${edit} button[type=submit]`, (b) => b.click());
  await alice.waitForSelector(edit, { hidden: true });
  await waitForText(bob, `.msg[data-id="${contact.id}"]`, 'Carol Díaz');
  assert.equal((await messages(bob)).find((m) => m.id === contact.id).text.includes('user carol'), false);
  await waitForText(bob, `.msg[data-id="${contact.id}"] .meta`, 'edited');
  await sendForm(alice, 'text', { body: 'Wrong room, sorry' });
  await waitForMessage(bob, 'text', 'alice', 'Wrong room');
  await waitForMessage(alice, 'text', 'alice', 'Wrong room');
  const wrong = (await messages(alice)).find((m) => m.text.includes('Wrong room'));
  await alice.$$eval(`.msg[data-id="${wrong.id}"] .actions button`, (bs) => bs.find((b) => b.textContent === 'Delete').click());
  await waitForText(bob, '.msg.deleted', 'deleted by alice');
  assert.equal((await messages(bob)).some((m) => m.text.includes('Wrong room')), false);

  // Recording indicator, away, read and delivery receipts, custom events.
  await alice.click('[data-testid=recording]');
  await waitForText(bob, '[data-testid=indicator]', 'alice is recording');
  await alice.click('[data-testid=stop-recording]');
  await bob.waitForFunction(() => !document.querySelector('[data-testid=indicator]').textContent.includes('recording'));
  await alice.click('[data-testid=away]');
  await waitForText(bob, '[data-testid=presence] li[data-user=alice]', 'away');
  await alice.click('[data-testid=back]');
  await bob.waitForFunction(() => !document.querySelector('[data-testid=presence] li[data-user=alice]').textContent.includes('away'));
  await waitForText(alice, `.msg[data-id="${aliceText.id}"] [data-testid=receipts]`, 'delivered to bob');
  await bob.click('[data-testid=mark-read]');
  await waitForText(alice, `.msg[data-id="${aliceText.id}"] [data-testid=receipts]`, 'read by bob');
  await alice.$eval('[data-testid=event-nudge] textarea', (e) => { e.value = '{"why":"standup"}'; });
  await alice.click('[data-testid=event-nudge] button[type=submit]');
  await waitForText(bob, '[data-testid=log] li[data-event=nudge]', 'nudge from alice: {"why":"standup"}');
  await alice.$eval('[data-testid=event-handRaised] textarea', (e) => { e.value = '{"topic":"release notes"}'; });
  await alice.click('[data-testid=event-handRaised] button[type=submit]');
  await waitForMessage(bob, 'handRaised', 'alice', 'release notes'); // stored: in the timeline

  // History: a new page gets the newest historyLimit (10) messages, then
  // pages back to the start.
  const carol = await openAs(browser, base, 'bob');
  await joinRoom(carol, base);
  await waitForMessage(carol, 'handRaised', 'alice', 'release notes');
  const firstPage = await messages(carol);
  assert.equal(firstPage.length, 10, JSON.stringify(firstPage.map((m) => m.type)));
  assert.equal(firstPage.some((m) => m.sender === 'alice' && m.type === 'text' && m.text.includes('Mockups are in')), false);
  await carol.click('button.older');
  await waitForMessage(carol, 'text', 'alice', 'Mockups are in');
  const seen = (await messages(carol)).map((m) => m.type);
  for (const [type] of BUILTINS) assert.ok(seen.includes(type), `history has ${type}`);
  await carol.click('button.older');
  await waitForText(carol, 'button.older', 'No older messages');

  await alice.evaluate(() => {
    document.querySelector('.scroll').style.maxHeight = 'none'; // the whole timeline in the screenshot
  });
  await screenshot(alice, 'console-room-alice');
  await elementShot(alice, '.timeline .scroll', 'doc-console-room');
  await alice.evaluate(() => {
    document.querySelector('.scroll').style.maxHeight = '';
  });
  await screenshot(bob, 'console-room-bob');

  // The operations glance counts this hub's sockets and messages.
  await bob.goto(`${base}#/ops`);
  await bob.waitForSelector('[data-testid=ops] tr[data-hub=team]');
  const row = await bob.$eval('[data-testid=ops] tr[data-hub=team]', (tr) => [...tr.cells].map((c) => c.textContent));
  assert.ok(Number(row[1]) >= 2, `sockets: ${row}`);
  assert.ok(Number(row[2]) >= 1, `rooms: ${row}`);
  assert.ok(Number(row[4]) >= 13, `messages: ${row}`);
  // A message and a refused one after the first sample: the next refresh
  // (5 s) shows them per minute, the refusal under its code.
  await sendForm(alice, 'text', { body: 'One more thing' });
  await sendForm(alice, 'location', { lat: 200, lng: 0 });
  await waitForText(alice, '[data-testid="send-location"] [data-error-for=lat]', 'between');
  await bob.waitForFunction(() => {
    const cells = document.querySelector('[data-testid=ops] tr[data-hub=team]').cells;
    // Two refusals in all: the edit above and this send.
    return Number(cells[5].textContent) > 0 && cells[6].textContent.includes('INVALID_MESSAGE 2 (');
  }, { timeout: 15_000 });
  await screenshot(bob, 'console-ops');
  await elementShot(bob, 'main', 'doc-console-ops');
  assertNoPageErrors([alice, bob, carol]);
});

browserTest('a wrong field shows the server error beside that field', async () => {
  const alice = await openAs(browser, base, 'alice');
  await joinRoom(alice, base);
  await sendForm(alice, 'location', { lat: 123.4, lng: 2.29, label: 'Nowhere' });
  const form = '[data-testid="send-location"]';
  await waitForText(alice, `${form} [data-error-for=lat]`, 'must be between -90 and 90');
  assert.equal(await alice.$eval(`${form} [data-error-for=lng]`, (e) => e.textContent), '');
  assert.ok(await alice.$eval(`${form} input[name=lat]`, (e) => e.classList.contains('invalid')));
  await elementShot(alice, '.compose .send', 'doc-console-form-error');

  await sendForm(alice, 'poll', { question: '', options: { not: 'an array?' }, closesAt: '' });
  const poll = '[data-testid="send-poll"]';
  await waitForText(alice, `${poll} [data-error-for=question]`, 'required');
  await screenshot(alice, 'console-form-error');
  assert.deepEqual((await messages(alice)).filter((m) => m.text.includes('Nowhere')), [], 'nothing was sent');

  // A message's URLs are only followed when they are http(s) or pictures.
  await sendForm(alice, 'document', { mediaUrl: 'javascript:alert(1)', fileName: 'trap.pdf' });
  await waitForMessage(alice, 'document', 'alice', 'trap.pdf');
  const trap = await alice.$$eval('.msg[data-type=document] a', (as) => as.filter((a) => a.textContent === 'trap.pdf').map((a) => a.getAttribute('href')));
  assert.deepEqual(trap, ['#']);
  assertNoPageErrors([alice]);
});

browserTest('a moderator approves a pending message and the member sees it', async () => {
  const gus = await openAs(browser, base, 'gus');
  await joinRoom(gus, base);
  assert.deepEqual(await gus.$$eval('[data-testid=type-select] option', (os) => os.map((o) => o.value)), ['text', 'poll'],
    'a guest gets forms for the types its role allows');
  // Sent before the moderator opens the page: listed from REST.
  await sendForm(gus, 'text', { body: 'Hi all, guest here' });
  await waitForText(gus, '[data-testid=log]', 'waits for a moderator');

  const bob = await openAs(browser, base, 'bob');
  await joinRoom(bob, base);
  const mia = await openAs(browser, base, 'mia', { mint: true });
  await joinRoom(mia, base);
  await waitForText(mia, '[data-testid=pending]', 'Hi all, guest here');
  // Sent while the moderator watches: arrives live.
  await sendForm(gus, 'text', { body: 'Can I share a link?' });
  await waitForText(mia, '[data-testid=pending]', 'Can I share a link?');
  await screenshot(mia, 'console-moderation');
  await elementShot(mia, '.side', 'doc-console-moderation');
  assert.equal((await messages(bob)).some((m) => m.text.includes('guest here')), false, 'pending is not shown to members');

  await mia.$$eval('[data-testid=pending] li', (lis) =>
    lis.find((li) => li.textContent.includes('guest here')).querySelector('[data-testid=approve]').click());
  await waitForMessage(bob, 'text', 'gus', 'Hi all, guest here');
  await waitForMessage(gus, 'text', 'gus', 'Hi all, guest here');
  await mia.$$eval('[data-testid=pending] li', (lis) =>
    lis.find((li) => li.textContent.includes('share a link')).querySelector('[data-testid=reject]').click());
  await waitForText(gus, '[data-testid=log] li[data-event="hub:messageRejected"]', 'rejected');
  await waitForText(mia, '[data-testid=pending]', 'nothing waits for approval');

  // Silence, kick and block show in the room view.
  await mia.type('[data-testid=mod-user]', 'gus');
  await mia.click('[data-testid=mod-silence]');
  await waitForText(gus, '[data-testid=log]', 'silenced');
  await sendForm(gus, 'text', { body: 'still there?' });
  await waitForText(gus, '[data-testid=form-error]', 'SILENCED');
  await gus.click('[data-testid=ask-speak]');
  await waitForText(mia, '[data-testid=log] li[data-event="hub:speakRequest"]', 'gus asks to speak');
  await mia.click('[data-testid=mod-unsilence]');
  await waitForText(gus, '[data-testid=log]', 'unsilenced');
  await gus.waitForSelector('[data-testid=ask-speak]', { hidden: true });
  await mia.$eval('.moderation input[name=durationSeconds]', (e) => { e.value = '60'; });
  await mia.$eval('.moderation input[name=reason]', (e) => { e.value = 'spam'; });
  await mia.click('[data-testid=mod-block]');
  await waitForText(gus, '[data-testid=room-status]', 'removed from design by mia: spam');
  await waitForText(mia, '[data-testid=log]', 'Block gus: done');
  await mia.$eval('.moderation textarea[name=settings]', (e) => { e.value = '{"topic":"Launch checklist"}'; });
  await mia.$$eval('.moderation button', (bs) => bs.find((b) => b.textContent === 'Save settings').click());
  await waitForText(bob, '[data-testid=log] li[data-event="hub:roomUpdated"]', 'Launch checklist');
  await screenshot(mia, 'console-moderation-actions');
  assertNoPageErrors([bob, mia]);
});

browserTest('a reload with a broken spec shows its errors on the hubs page', async () => {
  const hubsDir = await copyFixture(path.join('console', 'hubs'));
  const d = await startConsoleDaemon({ hubs: hubsDir });
  try {
    const url = consoleURL(d);
    const page = await openAs(browser, url, 'alice');
    await waitForText(page, '[data-testid=reload-status]', 'Start-up load');
    await writeFile(path.join(hubsDir, 'broken.yaml'), [
      'hubBasics:',
      '  name: broken',
      'roomSettings:',
      '  roomDataObject: teamRoom',
      'hubRoles:',
      '  - name: member',
      '  - name: member',
      'messageSettings:',
      '  messageTypes: [text, gif]',
      '',
    ].join('\n'));
    await page.click('[data-testid=reload-button]');
    await waitForText(page, '[data-testid=reload-status]', 'failed');
    const errors = await page.$$eval('[data-testid=reload-errors] li', (lis) => lis.map((l) => l.textContent));
    assert.ok(errors.length >= 2, JSON.stringify(errors));
    assert.ok(errors.some((e) => e.includes('broken.yaml') && e.includes('hubRoles[1].name')), JSON.stringify(errors));
    assert.ok(errors.some((e) => e.includes('broken.yaml') && e.includes('gif')), JSON.stringify(errors));
    assert.equal(await page.$$eval('section.hub', (s) => s.map((x) => x.dataset.hub).join()), 'team', 'the old hubs keep running');
    await screenshot(page, 'console-reload-failed');
    await elementShot(page, '[data-testid=reload]', 'doc-console-reload-failed');

    await rm(path.join(hubsDir, 'broken.yaml'));
    await page.click('[data-testid=reload-button]');
    await waitForText(page, '[data-testid=reload-status]', 'Last reload');
    await waitForText(page, '[data-testid=reload-status]', 'succeeded');
    await screenshot(page, 'console-hubs');
    await elementShot(page, 'section.hub', 'doc-console-hubs');
    // The failed reload answers 422, which the browser logs.
    assertNoPageErrors([page], [/422.*api\/reload/, /status of 422/]);
  } finally {
    await d.close();
    await rm(hubsDir, { recursive: true, force: true });
  }
});

browserTest('the console is not served on the public listener', async () => {
  const res = await fetch(`${hubd.url}/-/console/`);
  assert.equal(res.status, 404);
  await res.body?.cancel();
  // A cross-site page cannot reload: the console's POSTs need its header.
  const forged = await fetch(new URL('api/reload', base), {
    method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}',
  });
  assert.equal(forged.status, 403);
  await forged.body?.cancel();
});

test('the operations glance follows joins, leaves and disconnects', async () => {
  const d = await startConsoleDaemon();
  try {
    const glance = async () => {
      const res = await fetch(`${d.adminUrl}/-/console/api/ops`);
      assert.equal(res.status, 200);
      const o = await res.json();
      const team = o.hubs.find((x) => x.hub === 'team') ?? { sockets: 0, rooms: 0, members: 0 };
      return { connections: o.connections, sockets: team.sockets, rooms: team.rooms, members: team.members };
    };
    const settles = (want) =>
      until(async () => JSON.stringify(await glance()) === JSON.stringify(want), { what: JSON.stringify(want) });
    const alice = await connect(d.url, '/hub/team', { token: makeToken({ userId: 'alice' }) });
    const bob = await connect(d.url, '/hub/team', { token: makeToken({ userId: 'bob' }) });
    for (const [s, room] of [[alice, 'design'], [bob, 'design'], [alice, 'launch']]) {
      assert.equal((await emitWithAck(s, 'hub:join', { roomId: room })).ok, true);
    }
    await settles({ connections: 2, sockets: 2, rooms: 2, members: 3 });
    assert.equal((await emitWithAck(alice, 'hub:leave', { roomId: 'launch' })).ok, true);
    await settles({ connections: 2, sockets: 2, rooms: 1, members: 2 });
    bob.disconnect();
    await settles({ connections: 1, sockets: 1, rooms: 1, members: 1 });
    alice.disconnect();
    await settles({ connections: 0, sockets: 0, rooms: 0, members: 0 });
  } finally {
    await d.close();
  }
});
