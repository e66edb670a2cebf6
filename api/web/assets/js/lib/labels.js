// The words the pages use for the API's enums: one place, so that the form, the lists and
// the dashboard say the same thing.
import { bytes } from './format.js';

export const KINDS = [
  ['PATIENT_SAFETY', 'Patient safety', 'Anything that harmed, or could have harmed, a patient: care, tests, results, samples.'],
  ['STAFF_SAFETY', 'Staff safety', 'An injury, assault or hazard to a member of staff.'],
  ['EQUIPMENT', 'Equipment or medical device', 'A device that failed, was faulty or was used wrongly.'],
  ['RADIATION', 'Radiation', 'An exposure to ionising radiation greater than intended, or not intended at all, or a radiation hazard.'],
  ['INFORMATION_GOVERNANCE', 'Information governance', 'Personal information lost, sent to the wrong person or seen by someone who should not have seen it.'],
  ['ENVIRONMENT', 'Environment or premises', 'Spills, fire, flooding, buildings, waste.'],
  ['OTHER', 'Something else', ''],
];

// LFPSE physical harm levels and their descriptions.
export const PHYSICAL_HARM = [
  ['NONE', 'No physical harm', 'No physical harm was caused.'],
  ['LOW', 'Low physical harm', 'Minimal harm: extra observation or minor treatment was needed.'],
  ['MODERATE', 'Moderate physical harm', 'Significant but not permanent harm, or a moderate increase in treatment.'],
  ['SEVERE', 'Severe physical harm', 'Permanent harm, or harm likely to shorten life.'],
  ['FATAL', 'Fatal', 'The incident caused the death of the patient or person.'],
];

// LFPSE psychological harm levels (there is no fatal psychological harm).
export const PSYCHOLOGICAL_HARM = [
  ['NONE', 'No psychological harm', 'No distress beyond what was expected.'],
  ['LOW', 'Low psychological harm', 'Distress that needed no extra treatment.'],
  ['MODERATE', 'Moderate psychological harm', 'Distress that needed extra treatment or support, for a short time.'],
  ['SEVERE', 'Severe psychological harm', 'Long-lasting distress or a psychological condition, 28 days or more.'],
];

export const EVENT_TYPES = [
  ['INCIDENT', 'Something that happened', 'An incident or near miss (the usual choice).'],
  ['OUTCOME', 'A poor outcome for a patient', 'Harm found later, where the cause is not yet known.'],
  ['RISK', 'A risk', 'Something that could cause harm in future if nothing changes.'],
  ['GOOD_CARE', 'Good care', 'Care that went well and others could learn from.'],
];

export const STATUSES = {
  REPORTED: 'Reported, waiting for review',
  UNDER_REVIEW: 'Under review',
  INVESTIGATING: 'Being investigated',
  ACTIONS_IN_PROGRESS: 'Actions in progress',
  CLOSED: 'Closed',
  DECLINED: 'Declined',
};

// What a button that moves an incident to a status says.
export const MOVES = {
  UNDER_REVIEW: 'Start the review',
  INVESTIGATING: 'Investigate',
  ACTIONS_IN_PROGRESS: 'Investigation done: actions in progress',
  CLOSED: 'Close',
  DECLINED: 'Decline (not an incident, or a duplicate)',
  REPORTED: 'Back to reported',
};

export const LEARNING_RESPONSES = [
  ['NONE', 'No learning response'],
  ['AFTER_ACTION_REVIEW', 'After action review'],
  ['SWARM_HUDDLE', 'Swarm huddle'],
  ['MDT_REVIEW', 'Multidisciplinary team review'],
  ['THEMATIC_REVIEW', 'Thematic review'],
  ['PSII', 'Patient safety incident investigation (PSII)'],
];

export const ACTION_STATUSES = {
  OPEN: 'Open',
  IN_PROGRESS: 'In progress',
  COMPLETED: 'Completed, waiting to be verified',
  VERIFIED: 'Verified',
  CANCELLED: 'Cancelled',
};

export const ACTION_MOVES = {
  IN_PROGRESS: 'Start work on it',
  COMPLETED: 'Mark it completed',
  VERIFIED: 'Verify it',
  CANCELLED: 'Cancel it',
  OPEN: 'Reopen it',
};

export const PRIORITIES = { LOW: 'Low', MEDIUM: 'Medium', HIGH: 'High', URGENT: 'Urgent' };

export const AUDIT_STATUSES = { PLANNED: 'Planned', IN_PROGRESS: 'In progress', REPORTED: 'Reported', CLOSED: 'Closed' };

export const CANDOUR_STEPS = {
  VERBAL_NOTIFICATION: 'Told in person, with an apology',
  WRITTEN_NOTIFICATION: 'Written notification',
  UPDATE: 'Update',
  FINAL_LETTER: 'Final letter',
};

export const FACTS = {
  PROLONGED_PSYCHOLOGICAL_HARM: 'Prolonged psychological harm (28 days or more)',
  REPORTABLE_STAFF_INJURY: 'Reportable staff injury (RIDDOR)',
  STAFF_INCAPACITATED_OVER_7_DAYS: 'Staff off work for more than 7 days (RIDDOR)',
  SIGNIFICANT_UNINTENDED_EXPOSURE: 'Significant unintended exposure (IR(ME)R)',
  RISK_TO_INDIVIDUALS: 'Data breach with a risk to people (ICO)',
  MEDICAL_DEVICE: 'Medical device (MHRA Yellow Card)',
  BLOOD_COMPONENT: 'Blood or blood components (SABRE)',
};

// What the page says about an evidence file, by its status.
export const ATTACHMENT_STATUSES = {
  AWAITING_SCAN: 'Waiting for virus scan',
  AVAILABLE: 'Available',
  INFECTED: 'Refused by virus scanner',
  REMOVED: 'Removed',
  DISPOSED: 'Disposed of',
};

export function attachmentTone(status) {
  if (status === 'AVAILABLE') return 'green';
  if (status === 'INFECTED') return 'red';
  if (status === 'AWAITING_SCAN') return 'yellow';
  return 'grey';
}

// The file types the server may take, in the words people know them by.
const FILE_TYPES = {
  'image/jpeg': 'JPEG',
  'image/png': 'PNG',
  'image/webp': 'WebP',
  'image/gif': 'GIF',
  'image/heic': 'HEIC',
  'application/pdf': 'PDF',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'Word',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'Excel',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'PowerPoint',
  'text/plain': 'plain text',
};

/** The kinds of file `types` (MIME types) allows, in words: "photos (JPEG, PNG), PDF or Word files". */
export function fileTypesInWords(types) {
  const photos = types.filter((t) => t.startsWith('image/')).map((t) => FILE_TYPES[t] ?? t.slice(6).toUpperCase());
  const others = types.filter((t) => !t.startsWith('image/')).map((t) => FILE_TYPES[t] ?? t);
  const parts = [];
  if (photos.length) parts.push(`photos (${photos.join(', ')})`);
  if (others.length) parts.push(`${others.length > 1 ? `${others.slice(0, -1).join(', ')} or ${others.at(-1)}` : others[0]} files`);
  return parts.join(' and ');
}

/**
 * The limits of `attachmentRules` in a sentence or two, for a picker's hint; `anonymous`
 * adds what an anonymous report may carry.
 */
export function attachmentRulesInWords(r, { anonymous = false, record = 'record' } = {}) {
  const photos = r.maxImageBytes && r.maxImageBytes < r.maxBytes ? ` (photos up to ${bytes(r.maxImageBytes)})` : '';
  const words = [`You can attach up to ${r.maxPerRecord} files to one ${record}, of up to ${bytes(r.maxBytes)} each${photos}: ${fileTypesInWords(r.allowedTypes)}.`];
  if (anonymous && r.anonymousTypes?.length) {
    words.push(`An anonymous report can carry ${fileTypesInWords(r.anonymousTypes)} only: documents keep their author’s name inside them.`);
  }
  if (r.scanned) words.push('Every file is checked for viruses before anyone can open it.');
  return words.join(' ');
}

const maps = {
  kind: Object.fromEntries(KINDS.map(([k, l]) => [k, l])),
  physicalHarm: Object.fromEntries(PHYSICAL_HARM.map(([k, l]) => [k, l])),
  psychologicalHarm: Object.fromEntries(PSYCHOLOGICAL_HARM.map(([k, l]) => [k, l])),
  eventType: Object.fromEntries(EVENT_TYPES.map(([k, l]) => [k, l])),
  learningResponse: Object.fromEntries(LEARNING_RESPONSES),
};

/** The words for an enum value, e.g. label('kind', 'PATIENT_SAFETY'). */
export function label(kind, value) {
  if (value == null) return '';
  return maps[kind]?.[value] ?? String(value).toLowerCase().replaceAll('_', ' ');
}

export function statusLabel(s) {
  return STATUSES[s] ?? s;
}

/** A tag colour for an incident status (the words carry the meaning; colour only helps). */
export function statusTone(status) {
  if (status === 'CLOSED') return 'green';
  if (status === 'DECLINED') return 'grey';
  if (status === 'REPORTED') return 'yellow';
  return 'blue';
}
