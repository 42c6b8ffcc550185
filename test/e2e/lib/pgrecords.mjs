// Loads records directories (<DataObject>.json arrays) into PostgreSQL
// tables, for daemons with recordSource.kind postgres.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const ident = (name) => `"${name.replaceAll('"', '""')}"`;
export const literal = (v) => (v === null ? 'NULL' : `'${String(v).replaceAll("'", "''")}'`);

function columnType(values) {
  if (values.every((v) => typeof v === 'boolean')) return 'boolean';
  if (values.every((v) => typeof v === 'number')) return 'numeric';
  return 'text';
}

/** SQL creating one table per <DataObject>.json of dir in schema. */
export async function recordsSQL(dir, schema) {
  const out = [`CREATE SCHEMA ${ident(schema)};`];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
    const object = path.basename(file, '.json');
    const rows = JSON.parse(await readFile(path.join(dir, file), 'utf8'));
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const types = cols.map((c) => columnType(rows.map((r) => r[c]).filter((v) => v !== undefined)));
    const table = `${ident(schema)}.${ident(object)}`;
    out.push(`CREATE TABLE ${table} (${cols.map((c, i) => `${ident(c)} ${types[i]}${c === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')});`);
    for (const r of rows) {
      out.push(`INSERT INTO ${table} (${cols.map(ident).join(', ')}) VALUES (${cols.map((c) => literal(r[c] ?? null)).join(', ')});`);
    }
  }
  return out.join('\n');
}

