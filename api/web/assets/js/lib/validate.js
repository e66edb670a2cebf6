// The report form's rules, the same as the server's (api/src/incident/service.rs
// parse_report and api/src/protect.rs NhsNumber): each problem is the server's own
// { field, message }, so a problem found here and the same problem found by the server
// read alike. `describe` turns either into the words the page shows.

/** Characters as the server counts them (Unicode scalar values). */
function length(s) {
  return [...s].length;
}

function blank(s) {
  return s == null || String(s).trim() === '';
}

function requiredText(field, value, max, out) {
  if (blank(value)) out.push({ field, message: `${field} must not be blank` });
  else if (length(value.trim()) > max) out.push({ field, message: `${field} must be at most ${max} characters` });
}

function optionalText(field, value, max, out) {
  if (!blank(value) && length(value.trim()) > max) {
    out.push({ field, message: `${field} must be at most ${max} characters` });
  }
}

/** The server's message for an NHS number, or null when it is valid (spaces and hyphens ignored). */
export function nhsNumberProblem(s) {
  const digits = String(s).replace(/[\s-]/g, '');
  if (!/^[0-9]{10}$/.test(digits)) return 'an NHS number is 10 digits';
  const d = [...digits].map(Number);
  const sum = d.slice(0, 9).reduce((acc, v, i) => acc + v * (10 - i), 0);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  if (check === 10 || check !== d[9]) return 'not a valid NHS number (check digit)';
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
  if (blank(v.description)) out.push({ field: 'description', message: 'description must not be blank' });
  else if (length(fullDescription(v)) > 20000) out.push({ field: 'description', message: 'description must be at most 20000 characters' });

  if (blank(v.occurredDate) && blank(v.occurredTime)) out.push({ field: 'occurredAt', message: 'occurredAt is required' });
  else if (blank(v.occurredDate)) out.push({ field: 'occurredAt', message: 'occurredAt needs a date' });
  else if (blank(v.occurredTime)) out.push({ field: 'occurredAt', message: 'occurredAt needs a time' });
  else {
    const t = localDateTime(v.occurredDate, v.occurredTime);
    if (!t) out.push({ field: 'occurredAt', message: 'occurredAt is not a real date' });
    // The server allows five minutes for clocks that differ.
    else if (t.getTime() > now.getTime() + 5 * 60 * 1000) out.push({ field: 'occurredAt', message: 'occurredAt must not be in the future' });
  }
  if (blank(v.departmentId)) out.push({ field: 'departmentId', message: 'departmentId is required' });
  if (blank(v.kind)) out.push({ field: 'kind', message: 'kind is required' });

  if (sectionApplies('patient', v.kind)) {
    const p = v.patient ?? {};
    if (!blank(p.nhsNumber)) {
      const problem = nhsNumberProblem(p.nhsNumber.trim());
      if (problem) out.push({ field: 'patient.nhsNumber', message: problem });
    }
    optionalText('patient.name', p.name, 200, out);
    if (!blank(p.dateOfBirth) && p.dateOfBirth > utcDay(now)) {
      out.push({ field: 'patient.dateOfBirth', message: 'a date of birth cannot be in the future' });
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
    out.push({ field: 'nearMiss', message: 'a near miss did not reach the patient, so its physical harm is NONE' });
  }
  if (blank(v.physicalHarm)) out.push({ field: 'physicalHarm', message: 'physicalHarm is required' });

  optionalText('location', v.location, 200, out);
  optionalText('immediateActions', v.immediateActions, 10000, out);
  if (v.psychologicalHarm === 'FATAL') out.push({ field: 'psychologicalHarm', message: 'psychological harm is recorded up to SEVERE' });
  optionalText('category', v.category, 100, out);
  return out;
}

function optional(s) {
  return blank(s) ? undefined : s.trim();
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
  return input;
}

// What the page says for each problem, client's or server's, in plain words.
const WORDS = {
  'title|title must not be blank': 'Enter a short summary of what happened',
  'title|title must be at most 200 characters': 'The summary must be 200 characters or fewer',
  'description|description must not be blank': 'Describe what happened',
  'description|description must be at most 20000 characters': 'The description must be 20,000 characters or fewer',
  'occurredAt|occurredAt is required': 'Enter the date and time it happened',
  'occurredAt|occurredAt needs a date': 'Enter the date it happened',
  'occurredAt|occurredAt needs a time': 'Enter the time it happened (roughly is fine)',
  'occurredAt|occurredAt is not a real date': 'The date it happened must be a real date',
  'occurredAt|occurredAt must not be in the future': 'The date and time it happened must be in the past',
  'departmentId|departmentId is required': 'Choose the department it happened in',
  'departmentId|no such department': 'Choose a department from the list',
  'kind|kind is required': 'Choose what kind of incident it was',
  'physicalHarm|physicalHarm is required': 'Choose how much physical harm was caused',
  'nearMiss|a near miss did not reach the patient, so its physical harm is NONE':
    'A near miss did not reach the patient, so it caused no physical harm: choose ‘No physical harm’, or answer ‘No, it happened’',
  'patient.nhsNumber|an NHS number is 10 digits': 'Enter the NHS number as 10 digits',
  'patient.nhsNumber|not a valid NHS number (check digit)': 'This is not a valid NHS number: check each digit',
  'patient.dateOfBirth|a date of birth cannot be in the future': 'The date of birth must be today or in the past',
  'patient.name|patient.name must be at most 200 characters': 'The patient’s name must be 200 characters or fewer',
  'equipment.assetId|equipment.assetId must be at most 100 characters': 'The asset number must be 100 characters or fewer',
  'equipment.manufacturer|equipment.manufacturer must be at most 200 characters': 'The manufacturer must be 200 characters or fewer',
  'equipment.model|equipment.model must be at most 200 characters': 'The model must be 200 characters or fewer',
  'equipment.serialNumber|equipment.serialNumber must be at most 100 characters': 'The serial number must be 100 characters or fewer',
  'location|location must be at most 200 characters': 'Where it happened must be 200 characters or fewer',
  'immediateActions|immediateActions must be at most 10000 characters': 'What was done straight away must be 10,000 characters or fewer',
  'psychologicalHarm|psychological harm is recorded up to SEVERE': 'Choose a psychological harm level up to severe',
  'category|category must be at most 100 characters': 'The category must be 100 characters or fewer',
  'category|category must be one of the configured categories': 'Enter one of the categories your trust uses, or leave it empty',
  'code|not a follow-up code': 'Enter the follow-up code you were given',
};

/** The words for a problem; a message this page does not know is shown as the server said it. */
export function describe(field, message) {
  const known = WORDS[`${field}|${message}`];
  if (known) return known;
  const m = String(message ?? 'Something is wrong with this answer');
  return m.charAt(0).toUpperCase() + m.slice(1);
}
