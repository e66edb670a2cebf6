// The report form's rules against the server's: the same messages (checked against the
// Rust source, so that they cannot drift apart), the same NHS number check, and only the
// sections a kind uses in what is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  nhsNumberProblem, validateReport, toInput, fullDescription, describe, localDateTime,
} from '../../api/web/assets/js/lib/validate.js';

const src = (p) => readFileSync(fileURLToPath(new URL(`../../api/src/${p}`, import.meta.url)), 'utf8');
const server = src('incident/service.rs') + src('protect.rs');

const now = new Date('2026-11-25T12:00:00Z');
const good = {
  title: 'Leads swapped',
  description: 'Limb leads reversed.',
  occurredDate: '2026-11-25',
  occurredTime: '09:30',
  departmentId: 'RGVwYXJ0bWVudDox',
  kind: 'PATIENT_SAFETY',
  nearMiss: 'yes',
  physicalHarm: 'NONE',
  patient: {},
  equipment: {},
  dose: {},
  facts: [],
};
const problems = (patch) => validateReport({ ...good, ...patch }, now);

test('a good report has no problems', () => {
  assert.deepEqual(problems({}), []);
});

test('NHS numbers: ten digits and the modulus 11 check digit, spaces and hyphens ignored', () => {
  for (const valid of ['9434765919', '943 476 5919', '943-476-5919', '4010232137']) assert.equal(nhsNumberProblem(valid), null, valid);
  assert.equal(nhsNumberProblem('943476591'), 'an NHS number is 10 digits');
  assert.equal(nhsNumberProblem('94347659190'), 'an NHS number is 10 digits');
  assert.equal(nhsNumberProblem('94347659x9'), 'an NHS number is 10 digits');
  assert.equal(nhsNumberProblem('9434765918'), 'not a valid NHS number (check digit)');
  // A remainder that gives check digit 10 is never issued.
  assert.equal(nhsNumberProblem('1000000010'), 'not a valid NHS number (check digit)');
});

test('every message the form gives for a rule the server checks is the server’s own', () => {
  const cases = [
    problems({ title: '  ' }),
    problems({ title: 'x'.repeat(201) }),
    problems({ description: '' }),
    problems({ description: 'x'.repeat(20001) }),
    problems({ occurredDate: '2026-11-26' }),
    problems({ physicalHarm: 'LOW' }),
    problems({ patient: { nhsNumber: '123' } }),
    problems({ patient: { nhsNumber: '9434765918' } }),
    problems({ patient: { dateOfBirth: '2026-11-26' } }),
    problems({ patient: { name: 'x'.repeat(201) } }),
    problems({ location: 'x'.repeat(201) }),
    problems({ category: 'x'.repeat(101) }),
    problems({ immediateActions: 'x'.repeat(10001) }),
    problems({ psychologicalHarm: 'FATAL' }),
    problems({ kind: 'EQUIPMENT', equipment: { assetId: 'x'.repeat(101) } }),
  ];
  for (const found of cases) {
    assert.equal(found.length, 1, JSON.stringify(found));
    const { field, message } = found[0];
    const generic = message.match(/^(\S+) must (not be blank|be at most (\d+) characters)$/);
    if (generic) {
      // text()/required() in service.rs: format!("{field} must be at most {max} characters").
      assert.ok(server.includes('"{field} must not be blank"') && server.includes('"{field} must be at most {max} characters"'));
      assert.equal(generic[1], field);
      if (generic[3]) assert.ok(server.includes(`"${field}", `) || server.includes(`("${field}"`), `the server checks ${field}`);
    } else {
      assert.ok(server.includes(`"${message}"`), `the server does not say ${JSON.stringify(message)}`);
      assert.ok(server.includes(`"${field}"`), `the server does not name field ${field}`);
    }
  }
});

test('limits are the server’s: 200, 20 000 and 10 000 characters, as characters not bytes', () => {
  assert.deepEqual(problems({ title: 'é'.repeat(200) }), []);
  assert.deepEqual(problems({ title: `  ${'x'.repeat(200)}  ` }), [], 'trimmed first');
  assert.deepEqual(problems({ description: 'x'.repeat(20000) }), []);
});

test('the time it happened may be up to five minutes ahead (clocks differ), not more', () => {
  assert.deepEqual(problems({ occurredDate: '2026-11-25', occurredTime: localHHMM(new Date(now.getTime() + 4 * 60000)) }), []);
  assert.equal(problems({ occurredDate: '2026-11-25', occurredTime: localHHMM(new Date(now.getTime() + 7 * 60000)) })[0]?.message, 'occurredAt must not be in the future');
  assert.equal(localDateTime('2026-02-30', '10:00'), null, 'not a real date');
  assert.equal(problems({ occurredTime: '' })[0].message, 'occurredAt needs a time');
});

function localHHMM(d) {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

test('a date of birth today is fine; tomorrow is not (the server’s UTC date)', () => {
  assert.deepEqual(problems({ patient: { dateOfBirth: '2026-11-25' } }), []);
  assert.equal(problems({ patient: { dateOfBirth: '2026-11-26' } })[0].field, 'patient.dateOfBirth');
});

test('sections the kind does not use are neither checked nor sent', () => {
  const v = { ...good, kind: 'STAFF_SAFETY', patient: { nhsNumber: '123', name: 'Ada' }, equipment: { assetId: 'A1' }, facts: ['MEDICAL_DEVICE', 'REPORTABLE_STAFF_INJURY'] };
  assert.deepEqual(validateReport(v, now), []);
  const input = toInput(v, 'key-1');
  assert.equal(input.patient, undefined);
  assert.equal(input.equipment, undefined);
  assert.deepEqual(input.regulatoryFacts, ['REPORTABLE_STAFF_INJURY']);
  assert.equal(input.idempotencyKey, 'key-1');
  assert.equal(input.nearMiss, true);
  assert.equal(input.anonymous, false);
});

test('the dose of a radiation incident is added to its description', () => {
  const v = { ...good, kind: 'RADIATION', description: 'Wrong patient scanned. ', dose: { procedure: 'CT head', intended: '', delivered: '2 mSv' } };
  assert.equal(fullDescription(v), 'Wrong patient scanned.\n\nRadiation dose\nExamination or treatment: CT head\nExposure or dose given (or estimated): 2 mSv');
  assert.equal(fullDescription({ ...v, kind: 'PATIENT_SAFETY' }), 'Wrong patient scanned.');
  assert.equal(toInput(v, 'k').description, fullDescription(v));
});

test('every problem has plain words, and an unknown server message is still shown', () => {
  for (const p of [
    ...problems({ title: '', description: '', occurredDate: '', departmentId: '', kind: '', physicalHarm: '' }),
    { field: 'category', message: 'category must be one of the configured categories' },
    { field: 'departmentId', message: 'no such department' },
  ]) {
    assert.notEqual(describe(p.field, p.message), p.message.charAt(0).toUpperCase() + p.message.slice(1), `${p.field}: ${p.message} has no words`);
  }
  assert.equal(describe('title', 'something new'), 'Something new');
  // The taxonomy message is the server's.
  assert.ok(server.includes('"{field} must be one of the configured categories"'));
});
