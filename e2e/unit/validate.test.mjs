// The report form's rules against the server's: the same fields, reason codes and limits
// (checked against the Rust source, so that they cannot drift apart), words chosen by
// reason code and never by the server's wording, the same NHS number check, and only the
// sections a kind uses in what is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  nhsNumberProblem, validateReport, toInput, fullDescription, describe, localDateTime, WORDS,
} from '../../api/web/assets/js/lib/validate.js';

const src = (p) => readFileSync(fileURLToPath(new URL(`../../api/src/${p}`, import.meta.url)), 'utf8');
const server = src('incident/service.rs') + src('protect.rs') + src('record/text.rs');
// The reason codes the server gives (record/text.rs `reason`).
const REASONS = [...src('record/text.rs').matchAll(/pub const ([A-Z_]+): &str = "([A-Z_]+)";/g)].map((m) => m[2]);

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
  const length = { field: 'patient.nhsNumber', reason: 'MALFORMED', message: 'an NHS number is 10 digits' };
  const check = { field: 'patient.nhsNumber', reason: 'CHECK_DIGIT', message: 'not a valid NHS number (check digit)' };
  assert.deepEqual(nhsNumberProblem('943476591'), length);
  assert.deepEqual(nhsNumberProblem('94347659190'), length);
  assert.deepEqual(nhsNumberProblem('94347659x9'), length);
  assert.deepEqual(nhsNumberProblem('9434765918'), check);
  // A remainder that gives check digit 10 is never issued.
  assert.deepEqual(nhsNumberProblem('1000000010'), check);
  // The server gives the same reasons for the same two cases.
  assert.ok(server.includes('(reason::MALFORMED, "an NHS number is 10 digits")'));
  assert.ok(server.includes('(reason::CHECK_DIGIT, "not a valid NHS number (check digit)")'));
});

test('every problem the form finds for a rule the server checks has the server’s field, reason code and limit', () => {
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
  const field = (f) => f.split('.').pop();
  for (const found of cases) {
    assert.equal(found.length, 1, JSON.stringify(found));
    const p = found[0];
    assert.ok(REASONS.includes(p.reason), `${p.reason} is one of the server's reason codes`);
    if (p.reason === 'TOO_LONG' || p.reason === 'BLANK') {
      // text::required / text::optional with the field and its limit.
      // (or, for a check shared by several inputs, with the field passed in).
      const limit = p.reason === 'TOO_LONG' ? p.limit.toLocaleString('en-US').replace(',', '_?') : '';
      const call = new RegExp(`(required|optional)\\(\\s*("${p.field}",|field, ${field(p.field)},)[^;]*?${limit}[^;]*?\\)`);
      assert.match(server, call, `the server checks ${p.field}${p.limit ? ` up to ${p.limit}` : ''}`);
      if (p.reason === 'TOO_LONG') assert.equal(typeof p.limit, 'number');
    } else {
      // The message is the server's (shown only when the page has no words for it).
      assert.ok(server.includes(`"${p.message}"`), `the server does not say ${JSON.stringify(p.message)}`);
      assert.ok(server.includes(`"${p.field}"`) || server.includes(`"${field(p.field)}"`), `the server does not name field ${p.field}`);
    }
    assert.notEqual(describe(p), p.message, `${p.field}|${p.reason} has words`);
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

test('every problem has plain words, chosen by reason and limit, and an unknown one is still shown', () => {
  for (const p of [
    ...problems({ title: '', description: '', occurredDate: '', departmentId: '', kind: '', physicalHarm: '' }),
    { field: 'category', reason: 'NOT_ALLOWED', message: 'category must be one of the configured categories' },
    { field: 'departmentId', reason: 'UNKNOWN', message: 'no such department' },
  ]) {
    const shown = describe(p);
    assert.notEqual(shown, p.message.charAt(0).toUpperCase() + p.message.slice(1), `${p.field}|${p.reason} has no words`);
  }
  // The wording of the server's message does not matter; its reason and limit do.
  assert.equal(describe({ field: 'title', reason: 'TOO_LONG', limit: 200, message: 'anything at all' }), 'The summary must be 200 characters or fewer');
  assert.equal(describe({ field: 'description', reason: 'TOO_LONG', limit: 20000, message: '' }), 'The description must be 20,000 characters or fewer');
  assert.equal(describe({ field: 'title', reason: 'SOMETHING_NEW', message: 'something new' }), 'Something new');
  // A page's own words come first.
  assert.equal(describe({ field: 'title', reason: 'BLANK', message: 'x' }, { 'title|BLANK': 'Name it' }), 'Name it');
  // Every word is keyed by a reason code the server has, or by one of the form's own
  // (the parts of a date and time the server receives as one value).
  for (const key of Object.keys(WORDS)) {
    const reason = key.split('|')[1];
    assert.ok(REASONS.includes(reason) || ['NO_DATE', 'NO_TIME'].includes(reason), key);
  }
  assert.ok(server.includes('"{field} must be one of the configured categories"'));
});

test('the national form’s questions go as lfpseAnswers, only for patient-safety kinds', () => {
  const v = { ...good, kind: 'PATIENT_SAFETY', lfpse: { agents: ['4', '3'], concern: '5' } };
  assert.deepEqual(toInput(v, 'k').lfpseAnswers, [
    { element: 'AdverseEventAgent.InvolvedAgents', values: ['4', '3'] },
    { element: 'AdverseEventClassification.LevelOfConcern', values: ['5'] },
  ]);
  assert.equal(toInput({ ...v, lfpse: { agents: [], concern: '' } }, 'k').lfpseAnswers, undefined);
  assert.equal(toInput({ ...v, kind: 'STAFF_SAFETY' }, 'k').lfpseAnswers, undefined);
});
