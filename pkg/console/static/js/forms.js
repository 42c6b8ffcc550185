// Forms built from JSON Schemas (the content schemas of the hub's OpenAPI
// document, generated from its spec): one input per property, the
// server's INVALID_MESSAGE details shown next to the fields they name.

import { h } from './dom.js';

/**
 * The widget of one property, and how its value is read. Defaults are set
 * as attributes, so that a form reset after a send restores them.
 */
function widget(name, s, required) {
  const types = [].concat(s.type ?? []);
  const common = { name, id: `f-${name}-${Math.random().toString(36).slice(2, 8)}` };
  if (s.enum) {
    const el = h('select', common, required ? null : h('option', { value: '' }, '—'),
      s.enum.map((v) => h('option', { value: v, selected: v === s.default ? 'selected' : null }, v)));
    return { el, read: () => el.value || undefined, write: (v) => { el.value = String(v); } };
  }
  if (types.length === 1 && types[0] === 'boolean') {
    const el = h('input', { ...common, type: 'checkbox', checked: s.default === true ? 'checked' : null });
    return { el, read: () => el.checked, write: (v) => { el.checked = v === true; } };
  }
  if (types.length === 1 && types[0] === 'string' && s.format === 'date-time') {
    const el = h('input', { ...common, type: 'datetime-local', step: 1 });
    return {
      el,
      read: () => (el.value ? new Date(el.value).toISOString() : undefined),
      write: (v) => { el.value = localDateTime(v); },
    };
  }
  if (types.length === 1 && (types[0] === 'integer' || types[0] === 'number')) {
    const el = h('input', { ...common, type: 'number', step: 'any', value: s.default === undefined ? null : String(s.default) });
    return {
      el,
      read: () => {
        if (el.value === '') return undefined;
        const n = Number(el.value);
        return Number.isNaN(n) ? el.value : n;
      },
      write: (v) => { el.value = String(v); },
    };
  }
  if (types.length === 1 && types[0] === 'string') {
    const el = h('input', { ...common, type: 'text', value: s.default === undefined ? null : String(s.default), autocomplete: 'off' });
    return { el, read: () => (el.value === '' ? undefined : el.value), write: (v) => { el.value = String(v); } };
  }
  // JSON: objects, arrays, or any value.
  const el = h('textarea', { ...common, rows: 2, placeholder: 'JSON', spellcheck: false },
    s.default !== undefined ? JSON.stringify(s.default) : '');
  return {
    el,
    json: true,
    read: () => {
      if (el.value.trim() === '') return undefined;
      return JSON.parse(el.value); // a SyntaxError is reported beside the field
    },
    write: (v) => { el.value = JSON.stringify(v); },
  };
}

/** An ISO 8601 time as the value of a datetime-local input (local time). */
function localDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Builds a form for a JSON Schema object. onSubmit(value) is called with
 * the content; extra nodes are placed before the submit button; values
 * prefills the fields (an edit).
 */
export function schemaForm(schema, { submitLabel = 'Send', onSubmit, extra = [], testid, order = [], values } = {}) {
  const required = new Set(schema.required ?? []);
  // Fields in the given order, then required ones, then the others.
  const rank = (n) => (order.includes(n) ? order.indexOf(n) : order.length + (required.has(n) ? 0 : 1));
  const props = Object.fromEntries(Object.entries(schema.properties ?? {}).sort(([a], [b]) => rank(a) - rank(b)));
  const fields = {};
  const formError = h('div.form-error', { 'data-testid': 'form-error' });
  const rows = Object.entries(props).map(([name, s]) => {
    const w = widget(name, s, required.has(name));
    const err = h('span.field-error', { 'data-error-for': name });
    fields[name] = { ...w, err };
    return h('div.field', { dataset: { field: name } },
      h('label', { for: w.el.id }, name, required.has(name) ? h('span.req', ' *') : null),
      w.el,
      s.description ? h('span.hint', s.description) : null,
      err);
  });
  // Prefilled values (an edit): set after the defaults.
  for (const [name, v] of Object.entries(values ?? {})) {
    if (fields[name] && v !== undefined && v !== null) fields[name].write(v);
  }
  const button = h('button', { type: 'submit' }, submitLabel);
  const form = h('form.schema', { novalidate: true, 'data-testid': testid }, rows, extra, h('div.actions', button), formError);

  const api = {
    el: form,
    clearErrors() {
      formError.replaceChildren();
      for (const f of Object.values(fields)) {
        f.err.textContent = '';
        f.el.classList.remove('invalid');
      }
    },
    /** Shows { field, message } problems beside their fields. */
    showDetails(details, fallback) {
      const unplaced = [];
      for (const d of [].concat(details ?? [])) {
        // The server names content fields "content.<field>" (or "<field>").
        const key = String(d.field ?? '').replace(/^content\./, '').split(/[.[]/)[0];
        const f = fields[key];
        if (!f) {
          unplaced.push(`${d.field ? `${d.field}: ` : ''}${d.message}`);
          continue;
        }
        f.err.textContent = f.err.textContent ? `${f.err.textContent}; ${d.message}` : d.message;
        f.el.classList.add('invalid');
      }
      if (unplaced.length || (!details?.length && fallback)) {
        formError.replaceChildren(...[fallback, ...unplaced].filter(Boolean).map((t) => h('div', t)));
      }
    },
    showError(text) {
      formError.replaceChildren(h('div', text));
    },
    reset() {
      form.reset();
      api.clearErrors();
    },
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    api.clearErrors();
    const value = {};
    let bad = false;
    for (const [name, f] of Object.entries(fields)) {
      try {
        const v = f.read();
        if (v !== undefined) value[name] = v;
      } catch (err) {
        bad = true;
        f.err.textContent = `not valid JSON (${err.message})`;
        f.el.classList.add('invalid');
      }
    }
    if (bad) return;
    button.disabled = true;
    try {
      await onSubmit(value, api);
    } finally {
      button.disabled = false;
    }
  });
  return api;
}
