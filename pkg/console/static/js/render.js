// How messages look: one renderer per built-in type, custom types as a
// field list, stored custom events as their data.

import { h, pretty } from './dom.js';

/**
 * A URL from a message, for src and href: http(s), data: pictures and
 * relative URLs pass; anything else (javascript:, ...) becomes '#'.
 */
export function safeUrl(u) {
  if (typeof u !== 'string') return '#';
  try {
    const url = new URL(u, location.href);
    if (url.protocol === 'http:' || url.protocol === 'https:') return u;
    if (url.protocol === 'data:' && /^data:image\//i.test(u)) return u;
  } catch {
    // not a URL
  }
  return '#';
}

const media = (c) => safeUrl(c.mediaUrl);

function caption(c) {
  return c.caption ? h('div.caption', c.caption) : null;
}

function size(n) {
  if (typeof n !== 'number') return '';
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function seconds(d) {
  return typeof d === 'number' ? `${d.toFixed(1)} s` : '';
}

/** Renderers of the built-in message types, by messageType. */
export const builtinRenderers = {
  text: (c) => h('div.text', c.body),
  image: (c) =>
    h('figure.image', h('img', { src: media(c), alt: c.caption ?? 'image', width: c.width, height: c.height, loading: 'lazy' }), caption(c)),
  video: (c) =>
    h('figure.video', h('video', { src: media(c), poster: c.thumbnail ? safeUrl(c.thumbnail) : null, controls: true, preload: 'none' }),
      h('div.caption', [c.caption, seconds(c.duration)].filter(Boolean).join(' · '))),
  audio: (c) =>
    h('div.audio', h('audio', { src: media(c), controls: true, preload: 'none' }), h('span.muted', seconds(c.duration)),
      Array.isArray(c.waveform) ? waveform(c.waveform) : null),
  document: (c) =>
    h('div.document', '📄 ', h('a', { href: media(c), target: '_blank', rel: 'noopener noreferrer' }, c.fileName || String(c.mediaUrl)),
      h('span.muted', ` ${[c.mimeType, size(c.fileSize)].filter(Boolean).join(', ')}`)),
  sticker: (c) => h('div.sticker', h('img', { src: safeUrl(c.stickerUrl), alt: 'sticker', loading: 'lazy' }),
    c.stickerPackId ? h('span.muted', c.stickerPackId) : null),
  contact: (c) =>
    h('div.contact', h('span.avatar', (c.contactName || '?').slice(0, 1).toUpperCase()),
      h('div', h('b', c.contactName), c.contactPhone ? h('div', `☎ ${c.contactPhone}`) : null,
        c.contactUserId ? h('div.muted', `user ${c.contactUserId}`) : null)),
  location: (c) =>
    h('div.location', '📍 ', h('b', c.label || c.address || 'Location'),
      c.label && c.address ? h('div', c.address) : null,
      h('div.coords', { 'data-testid': 'coords' }, `${Number(c.lat).toFixed(5)}, ${Number(c.lng).toFixed(5)}`)),
  system: (c) =>
    h('div.system', '⚙ ', h('b', c.systemAction), c.systemData !== undefined ? h('code', ` ${JSON.stringify(c.systemData)}`) : null),
};

function waveform(values) {
  const max = Math.max(1e-9, ...values.map((v) => Math.abs(v)));
  return h('span.wave', values.slice(0, 64).map((v) => {
    const bar = h('i');
    bar.style.height = `${Math.round((Math.abs(v) / max) * 16) + 2}px`; // CSSOM: allowed by the CSP
    return bar;
  }));
}

/** The content of a message of any type of the hub. */
export function renderContent(m, hubSpec) {
  const r = builtinRenderers[m.messageType];
  if (r) return r(m.content ?? {});
  const ct = (hubSpec.messageSettings.customMessageTypes ?? []).find((t) => t.name === m.messageType);
  if (ct) {
    return h('div.custom', h('div.ctitle', ct.name),
      h('dl', ct.fields.filter((f) => m.content?.[f.name] !== undefined)
        .flatMap((f) => [h('dt', f.name), h('dd', fieldValue(m.content[f.name]))])));
  }
  // A stored custom event: content is { data }.
  return h('div.custom.event', h('div.ctitle', `event ${m.messageType}`), h('pre', pretty(m.content?.data ?? null)));
}

function fieldValue(v) {
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v !== null && typeof v === 'object') return h('code', JSON.stringify(v));
  return String(v);
}

/** A short text of a message, for replies and logs. */
export function preview(m) {
  const c = m.content ?? {};
  const text = c.body ?? c.caption ?? c.fileName ?? c.contactName ?? c.label ?? c.systemAction ?? c.title ?? c.question;
  return (text ? String(text) : `[${m.messageType}]`).slice(0, 120);
}
