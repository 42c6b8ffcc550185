// The CommonJS build loads with require() and exports what the ES build does.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import * as esm from '../dist/esm/index.js';

test('require() of the package gives the CommonJS build with the same exports', () => {
  const require = createRequire(import.meta.url);
  const cjs = require('@hubd/client');
  assert.equal(require.resolve('@hubd/client').endsWith('dist/cjs/index.js'), true);
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  assert.equal(typeof cjs.HubClient, 'function');
  assert.equal(new cjs.HubError('FORBIDDEN', 'no').code, 'FORBIDDEN');
});
