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
  assert.deepEqual(Object.keys(L.ATTACHMENT_STATUSES), values('AttachmentStatus'));
});

test('file sizes and the limits on files are put in words', async () => {
  const { bytes } = await import('../../api/web/assets/js/lib/format.js');
  assert.deepEqual([0, 1, 70, 1536, 123456, 50 * 1024 * 1024].map(bytes), ['0 bytes', '1 byte', '70 bytes', '1.5 KB', '121 KB', '50 MB']);
  const rules = {
    maxBytes: 50 * 1024 * 1024,
    maxImageBytes: 25 * 1024 * 1024,
    maxPerRecord: 20,
    allowedTypes: ['image/jpeg', 'image/png', 'application/pdf', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    anonymousTypes: ['image/jpeg', 'image/png'],
    scanned: true,
  };
  assert.equal(L.attachmentRulesInWords(rules, { anonymous: true, record: 'report' }),
    'You can attach up to 20 files to one report, of up to 50 MB each (photos up to 25 MB): photos (JPEG, PNG) and PDF or Word files. ' +
    'An anonymous report can carry photos (JPEG, PNG) only: documents keep their author’s name inside them. ' +
    'Every file is checked for viruses before anyone can open it.');
  assert.equal(L.attachmentRulesInWords({ ...rules, maxImageBytes: rules.maxBytes, scanned: false }),
    'You can attach up to 20 files to one record, of up to 50 MB each: photos (JPEG, PNG) and PDF or Word files.');
});
