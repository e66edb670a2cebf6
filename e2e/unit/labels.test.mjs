// Every value of the API's enums has the pages' words, so that a value added to the schema
// is not shown to staff as a raw name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as L from '../../api/web/assets/js/lib/labels.js';

const sdl = readFileSync(fileURLToPath(new URL('../../schema.graphql', import.meta.url)), 'utf8');
function values(name) {
  const body = sdl.match(new RegExp(`enum ${name} \\{([\\s\\S]*?)\\n\\}`))[1];
  return body.replace(/"""[\s\S]*?"""/g, '').split('\n').map((l) => l.trim()).filter(Boolean);
}
const keys = (rows) => rows.map((r) => r[0]);

test('the pages have words for every value of the enums they show', () => {
  assert.deepEqual(keys(L.KINDS), values('IncidentKind'));
  assert.deepEqual(keys(L.PHYSICAL_HARM), values('HarmLevel'));
  assert.deepEqual(keys(L.PSYCHOLOGICAL_HARM), values('HarmLevel').filter((v) => v !== 'FATAL'));
  assert.deepEqual(keys(L.EVENT_TYPES), values('EventType'));
  assert.deepEqual(keys(L.LEARNING_RESPONSES), values('LearningResponse'));
  assert.deepEqual(Object.keys(L.STATUSES), values('IncidentStatus'));
  assert.deepEqual(Object.keys(L.ACTION_STATUSES), values('CorrectiveActionStatus'));
  assert.deepEqual(Object.keys(L.PRIORITIES), values('Priority'));
  assert.deepEqual(Object.keys(L.AUDIT_STATUSES), values('AuditStatus'));
  assert.deepEqual(Object.keys(L.CANDOUR_STEPS), values('CandourStep'));
  assert.deepEqual(Object.keys(L.FACTS), values('RegulatoryFact'));
});
