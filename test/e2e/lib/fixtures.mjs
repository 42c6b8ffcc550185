// Names and ids from test/e2e/fixtures, shared by the test files.

import { makeToken } from './harness.mjs';

/** Users of the fixtures (records/chatMember.json). */
export const USERS = Object.freeze({
  // active member of every chat room
  alice: { userId: 'a11ce000-0000-4000-8000-000000000001', roleId: 'user' },
  // active member of every chat room
  bob: { userId: 'b0b00000-0000-4000-8000-000000000002', roleId: 'user' },
  // membership of general with status "left": the authSource condition fails
  carol: { userId: 'ca401000-0000-4000-8000-000000000003', roleId: 'user' },
  // no membership record at all
  mallory: { userId: 'd0110000-0000-4000-8000-000000000004', roleId: 'user' },
  // absoluteRoles of the chat hub
  admin: { userId: 'ad000000-0000-4000-8000-000000000005', roleId: 'superAdmin' },
});

/** Rooms of the fixtures (records/chatRoom.json). */
export const ROOMS = Object.freeze({
  general: '0b5c1a9e-0001-4000-8000-000000000001',
  // chatEnabled false: roomEligibility fails for everybody
  archive: '0b5c1a9e-0002-4000-8000-000000000002',
  random: '0b5c1a9e-0003-4000-8000-000000000003',
  history: '0b5c1a9e-0004-4000-8000-000000000004',
  payload: '0b5c1a9e-0005-4000-8000-000000000005',
  // no record
  missing: '0b5c1a9e-0999-4000-8000-000000000999',
});

/** Namespaces of the fixture hubs. */
export const NSP = Object.freeze({
  chat: '/hub/chat',
  lobby: '/hub/lobby',
});

/** A valid token for a fixture user. */
export function tokenFor(user, extraClaims = {}) {
  const u = USERS[user];
  if (!u) throw new Error(`unknown fixture user ${user}`);
  return makeToken({ ...u, ...extraClaims });
}

/** One valid content per built-in type a client may send (all but system). */
export const BUILTIN_CONTENT = Object.freeze({
  text: { body: 'hello from the e2e suite' },
  image: {
    mediaUrl: 'https://cdn.example.test/img/cat.png',
    thumbnail: 'https://cdn.example.test/img/cat_thumb.png',
    caption: 'a cat',
    width: 640,
    height: 480,
  },
  video: {
    mediaUrl: 'https://cdn.example.test/vid/clip.mp4',
    thumbnail: 'https://cdn.example.test/vid/clip.jpg',
    caption: 'a clip',
    duration: 12.5,
  },
  audio: {
    mediaUrl: 'https://cdn.example.test/aud/voice.ogg',
    duration: 3,
    waveform: [0, 12, 40, 22, 3],
  },
  document: {
    mediaUrl: 'https://cdn.example.test/doc/report.pdf',
    fileName: 'report.pdf',
    fileSize: 20480,
    mimeType: 'application/pdf',
  },
  sticker: { stickerUrl: 'https://cdn.example.test/st/wave.webp', stickerPackId: 'pack-1' },
  contact: {
    contactName: 'Bob Builder',
    contactPhone: '+15551234567',
    contactUserId: 'b0b00000-0000-4000-8000-000000000002',
  },
  location: { lat: 41.0082, lng: 28.9784, address: 'Sultanahmet, Istanbul', label: 'meeting point' },
});

/** A taskCard (custom type) content with every field set and valid. */
export const TASK_CARD_FULL = Object.freeze({
  title: 'Ship the release',
  notes: 'Long form notes\nwith two lines.',
  points: 5,
  estimate: 2.25,
  urgent: true,
  assigneeId: 'b0b00000-0000-4000-8000-000000000002',
  dueAt: '2026-12-01T09:30:00Z',
  status: 'doing',
  meta: { labels: ['release', 'q4'], sprint: 12 },
});
