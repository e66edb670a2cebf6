// The report form's rules, the same as the server's (api/src/incident/service.rs
// parse_report, api/src/record/text.rs and api/src/protect.rs NhsNumber). Each problem is
// { field, reason, limit, message } like the server's bad input (`extensions.field`,
// `.reason`, `.limit`), so a problem found here and the same problem found by the server
// read alike: `describe` picks the page's words by field and reason code, never by the
// server's wording (the message is shown only for a problem the page has no words for).

/** Characters as the server counts them (Unicode scalar values). */
function length(s) {
  return [...s].length;
}

function blank(s) {
  return s == null || String(s).trim() === '';
}

/** One problem, shaped like the server's bad input. */
export function problem(field, reason, message, limit) {
  return limit === undefined ? { field, reason, message } : { field, reason, limit, message };
}

function tooLong(field, max) {
  return problem(field, 'TOO_LONG', `${field} must be at most ${max} characters`, max);
}

function requiredText(field, value, max, out) {
  if (blank(value)) out.push(problem(field, 'BLANK', `${field} must not be blank`));
  else if (length(value.trim()) > max) out.push(tooLong(field, max));
}

function optionalText(field, value, max, out) {
  if (!blank(value) && length(value.trim()) > max) out.push(tooLong(field, max));
}

/**
 * The problem with an NHS number given as `field`, or null when it is valid (spaces and
 * hyphens ignored): the server's reason MALFORMED (not ten digits) or CHECK_DIGIT.
 */
export function nhsNumberProblem(s, field = 'patient.nhsNumber') {
  const digits = String(s).replace(/[\s-]/g, '');
  if (!/^[0-9]{10}$/.test(digits)) return problem(field, 'MALFORMED', 'an NHS number is 10 digits');
  const d = [...digits].map(Number);
  const sum = d.slice(0, 9).reduce((acc, v, i) => acc + v * (10 - i), 0);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  if (check === 10 || check !== d[9]) return problem(field, 'CHECK_DIGIT', 'not a valid NHS number (check digit)');
  return null;
}

/** `YYYY-MM-DD` of `date` in UTC: the server's "today" for dates of birth. */
export function utcDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The local date and time typed in the form, as a Date; null when incomplete or unreal. */
export function localDateTime(day, time) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day ?? '') || !/^\d{2}:\d{2}(:\d{2})?$/.test(time ?? '')) return null;
  const [y, m, d] = day.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const t = new Date(y, m - 1, d, hh, mm);
  if (t.getFullYear() !== y || t.getMonth() !== m - 1 || t.getDate() !== d) return null;
  return t;
}

// Which sections of the form count for which kind of incident.
export const SECTIONS = {
  patient: ['PATIENT_SAFETY', 'RADIATION'],
  equipment: ['EQUIPMENT', 'RADIATION'],
  dose: ['RADIATION'],
  staff: ['STAFF_SAFETY'],
  ig: ['INFORMATION_GOVERNANCE'],
  lfpse: ['PATIENT_SAFETY', 'RADIATION'],
};

export function sectionApplies(section, kind) {
  return SECTIONS[section].includes(kind);
}

const FACT_SECTION = {
  MEDICAL_DEVICE: 'equipment',
  SIGNIFICANT_UNINTENDED_EXPOSURE: 'dose',
  REPORTABLE_STAFF_INJURY: 'staff',
  STAFF_INCAPACITATED_OVER_7_DAYS: 'staff',
  RISK_TO_INDIVIDUALS: 'ig',
};

/** The description as sent: what was typed, and the dose details of a radiation incident. */
export function fullDescription(v) {
  const text = (v.description ?? '').trim();
  if (!sectionApplies('dose', v.kind)) return text;
  const dose = v.dose ?? {};
  const lines = [
    ['Examination or treatment', dose.procedure],
    ['Intended exposure or dose', dose.intended],
    ['Exposure or dose given (or estimated)', dose.delivered],
  ].filter(([, value]) => !blank(value)).map(([name, value]) => `${name}: ${value.trim()}`);
  if (lines.length === 0) return text;
  return `${text}\n\nRadiation dose\n${lines.join('\n')}`;
}

/**
 * Every problem with a report, in the order of the form. `v` holds the form's values (see
 * report.js); `now` is the current time.
 */
export function validateReport(v, now = new Date()) {
  const out = [];
  requiredText('title', v.title, 200, out);
  if (blank(v.description)) out.push(problem('description', 'BLANK', 'description must not be blank'));
  else if (length(fullDescription(v)) > 20000) out.push(tooLong('description', 20000));

  if (blank(v.occurredDate) && blank(v.occurredTime)) out.push(problem('occurredAt', 'BLANK', 'occurredAt is required'));
  else if (blank(v.occurredDate)) out.push(problem('occurredAt', 'NO_DATE', 'occurredAt needs a date'));
  else if (blank(v.occurredTime)) out.push(problem('occurredAt', 'NO_TIME', 'occurredAt needs a time'));
  else {
    const t = localDateTime(v.occurredDate, v.occurredTime);
    if (!t) out.push(problem('occurredAt', 'MALFORMED', 'occurredAt is not a real date'));
    // The server allows five minutes for clocks that differ.
    else if (t.getTime() > now.getTime() + 5 * 60 * 1000) out.push(problem('occurredAt', 'IN_FUTURE', 'occurredAt must not be in the future'));
  }
  if (blank(v.departmentId)) out.push(problem('departmentId', 'BLANK', 'departmentId is required'));
  if (blank(v.kind)) out.push(problem('kind', 'BLANK', 'kind is required'));

  if (sectionApplies('patient', v.kind)) {
    const p = v.patient ?? {};
    if (!blank(p.nhsNumber)) {
      const bad = nhsNumberProblem(p.nhsNumber.trim());
      if (bad) out.push(bad);
    }
    optionalText('patient.name', p.name, 200, out);
    if (!blank(p.dateOfBirth) && p.dateOfBirth > utcDay(now)) {
      out.push(problem('patient.dateOfBirth', 'IN_FUTURE', 'a date of birth cannot be in the future'));
    }
  }
  if (sectionApplies('equipment', v.kind)) {
    const e = v.equipment ?? {};
    optionalText('equipment.assetId', e.assetId, 100, out);
    optionalText('equipment.manufacturer', e.manufacturer, 200, out);
    optionalText('equipment.model', e.model, 200, out);
    optionalText('equipment.serialNumber', e.serialNumber, 100, out);
  }

  if (v.nearMiss === 'yes' && !blank(v.physicalHarm) && v.physicalHarm !== 'NONE') {
    out.push(problem('nearMiss', 'RULE', 'a near miss did not reach the patient, so its physical harm is NONE'));
  }
  if (blank(v.physicalHarm)) out.push(problem('physicalHarm', 'BLANK', 'physicalHarm is required'));

  optionalText('location', v.location, 200, out);
  optionalText('immediateActions', v.immediateActions, 10000, out);
  if (v.psychologicalHarm === 'FATAL') out.push(problem('psychologicalHarm', 'RULE', 'psychological harm is recorded up to SEVERE'));
  optionalText('category', v.category, 100, out);
  return out;
}

function optional(s) {
  return blank(s) ? undefined : s.trim();
}

/** The national form's questions the page asks, as `lfpseAnswers` (taxonomy v5 codes;
 * docs/lfpse.md): what was involved, and how worried the reporter is. */
export function lfpseAnswers(v) {
  if (!sectionApplies('lfpse', v.kind)) return [];
  const l = v.lfpse ?? {};
  const out = [];
  const agents = (l.agents ?? []).filter((a) => !blank(a));
  if (agents.length) out.push({ element: 'AdverseEventAgent.InvolvedAgents', values: agents });
  if (!blank(l.concern)) out.push({ element: 'AdverseEventClassification.LevelOfConcern', values: [l.concern] });
  return out;
}

/** The `ReportIncidentInput` for a valid form: only the sections its kind uses. */
export function toInput(v, idempotencyKey) {
  const input = {
    title: v.title.trim(),
    description: fullDescription(v),
    occurredAt: localDateTime(v.occurredDate, v.occurredTime).toISOString(),
    departmentId: v.departmentId,
    kind: v.kind,
    physicalHarm: v.physicalHarm,
    nearMiss: v.nearMiss === 'yes',
    anonymous: Boolean(v.anonymous),
    idempotencyKey,
  };
  if (!blank(v.psychologicalHarm)) input.psychologicalHarm = v.psychologicalHarm;
  if (!blank(v.eventType)) input.eventType = v.eventType;
  for (const f of ['location', 'immediateActions', 'category']) {
    if (!blank(v[f])) input[f] = v[f].trim();
  }
  if (sectionApplies('patient', v.kind)) {
    const p = v.patient ?? {};
    if (!blank(p.nhsNumber) || !blank(p.name) || !blank(p.dateOfBirth)) {
      input.patient = { nhsNumber: optional(p.nhsNumber), name: optional(p.name), dateOfBirth: optional(p.dateOfBirth) };
    }
  }
  if (sectionApplies('equipment', v.kind)) {
    const e = v.equipment ?? {};
    const equipment = {
      assetId: optional(e.assetId),
      manufacturer: optional(e.manufacturer),
      model: optional(e.model),
      serialNumber: optional(e.serialNumber),
    };
    if (Object.values(equipment).some((x) => x !== undefined)) input.equipment = equipment;
  }
  const facts = (v.facts ?? []).filter((f) => FACT_SECTION[f] && sectionApplies(FACT_SECTION[f], v.kind));
  if (facts.length) input.regulatoryFacts = facts;
  const answers = lfpseAnswers(v);
  if (answers.length) input.lfpseAnswers = answers;
  return input;
}

// What the page says for each problem, client's or server's, in plain words: by field and
// reason code; a function is given the problem (for its limit).
const upTo = (what) => (p) => (p.limit == null ? asSentence(p.message) : `${what} must be ${p.limit.toLocaleString('en-GB')} characters or fewer`);
export const WORDS = {
  'title|BLANK': 'Enter a short summary of what happened',
  'title|TOO_LONG': upTo('The summary'),
  'description|BLANK': 'Describe what happened',
  'description|TOO_LONG': upTo('The description'),
  'occurredAt|BLANK': 'Enter the date and time it happened',
  'occurredAt|NO_DATE': 'Enter the date it happened',
  'occurredAt|NO_TIME': 'Enter the time it happened (roughly is fine)',
  'occurredAt|MALFORMED': 'The date it happened must be a real date',
  'occurredAt|IN_FUTURE': 'The date and time it happened must be in the past',
  'departmentId|BLANK': 'Choose the department it happened in',
  'departmentId|UNKNOWN': 'Choose a department from the list',
  'kind|BLANK': 'Choose what kind of incident it was',
  'physicalHarm|BLANK': 'Choose how much physical harm was caused',
  'nearMiss|RULE':
    'A near miss did not reach the patient, so it caused no physical harm: choose ‘No physical harm’, or answer ‘No, it happened’',
  'patient.nhsNumber|MALFORMED': 'Enter the NHS number as 10 digits',
  'patient.nhsNumber|CHECK_DIGIT': 'This is not a valid NHS number: check each digit',
  'patient.dateOfBirth|IN_FUTURE': 'The date of birth must be today or in the past',
  'patient.name|TOO_LONG': upTo('The patient’s name'),
  'equipment.assetId|TOO_LONG': upTo('The asset number'),
  'equipment.manufacturer|TOO_LONG': upTo('The manufacturer'),
  'equipment.model|TOO_LONG': upTo('The model'),
  'equipment.serialNumber|TOO_LONG': upTo('The serial number'),
  'location|TOO_LONG': upTo('Where it happened'),
  'immediateActions|TOO_LONG': upTo('What was done straight away'),
  'psychologicalHarm|RULE': 'Choose a psychological harm level up to severe',
  'category|TOO_LONG': upTo('The category'),
  'category|NOT_ALLOWED': 'Enter one of the categories your trust uses, or leave it empty',
  'code|MALFORMED': 'Enter the follow-up code you were given',
};

/** The server's own words for a problem the page has no words for, as a sentence. */
export function asSentence(message) {
  const m = String(message ?? 'Something is wrong with this answer');
  return m.charAt(0).toUpperCase() + m.slice(1);
}

/**
 * The page's words for a problem ({ field, reason, limit, message }), looked up in `words`
 * (then in the report form's) by field and reason code; a problem with none is shown as
 * the server said it.
 */
export function describe(p, words = {}) {
  const key = `${p.field}|${p.reason}`;
  const known = words[key] ?? WORDS[key];
  if (typeof known === 'function') return known(p);
  return known ?? asSentence(p.message);
}
