// The report form: the questions that matter up front, the rest revealed by kind or under
// "More details"; photos and documents uploaded as they are chosen and sent with it; the
// draft kept across reloads; one incident however often it is sent.
import { start } from '../lib/layout.js';
import { gql, ApiError, NetworkError } from '../lib/api.js';
import { $, $$, h, radios, focus } from '../lib/dom.js';
import { KINDS, PHYSICAL_HARM, PSYCHOLOGICAL_HARM, EVENT_TYPES } from '../lib/labels.js';
import { validateReport, toInput, describe, problem } from '../lib/validate.js';
import { filePicker } from '../lib/forms.js';
import { attachmentRulesInWords } from '../lib/labels.js';
import * as errors from '../lib/errors.js';
import * as draft from '../lib/draft.js';
import { todayIso } from '../lib/format.js';

const DRAFT = 'report';
const form = $('#report-form');
const summary = $('#error-summary');
const submit = $('#submit');
let picker = null;

// The form's own words for its files (the server's refusals are shown as it words them).
const WORDS = {
  'attachmentIds|NOT_UPLOADED': (p) => `Remove ${p.name} from the list, or choose it again: it was not uploaded`,
};
const show = (problems) => errors.show(summary, form, problems, { describe: (p) => describe(p, WORDS) });

const RULES = `{ attachmentRules { maxBytes maxImageBytes maxPerRecord allowedTypes anonymousTypes scanned } }`;

const REPORT = `mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) {
    incident { id reference status department { name } }
    followUpCode
  }
}`;

function nowTime(d = new Date()) {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The form's values, in the shape validate.js reads. */
function values() {
  const fd = new FormData(form);
  const get = (n) => fd.get(n) ?? '';
  return {
    title: get('title'),
    description: get('description'),
    occurredDate: get('occurredAtDate'),
    occurredTime: get('occurredAtTime'),
    departmentId: get('departmentId'),
    kind: get('kind'),
    nearMiss: get('nearMiss'),
    physicalHarm: get('physicalHarm'),
    psychologicalHarm: get('psychologicalHarm'),
    eventType: get('eventType'),
    location: get('location'),
    immediateActions: get('immediateActions'),
    category: get('category'),
    anonymous: get('anonymous') === 'yes',
    patient: { nhsNumber: get('patientNhsNumber'), name: get('patientName'), dateOfBirth: get('patientDateOfBirth') },
    equipment: {
      assetId: get('equipmentAssetId'),
      manufacturer: get('equipmentManufacturer'),
      model: get('equipmentModel'),
      serialNumber: get('equipmentSerialNumber'),
    },
    dose: { procedure: get('doseProcedure'), intended: get('doseIntended'), delivered: get('doseDelivered') },
    facts: fd.getAll('fact'),
    lfpse: { agents: fd.getAll('lfpseAgent'), concern: get('lfpseConcern') },
  };
}

// --- the draft ------------------------------------------------------------------------

let current = null; // { fields: {name: value | [values]}, idempotencyKey }

function fieldsOf() {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === 'radio') {
      if (el.checked) out[el.name] = el.value;
    } else if (el.type === 'checkbox') {
      out[el.name] = out[el.name] ?? [];
      if (el.checked) out[el.name].push(el.value);
    } else {
      out[el.name] = el.value;
    }
  }
  return out;
}

function restore(fields) {
  for (const el of form.elements) {
    if (!el.name || !(el.name in fields)) continue;
    const v = fields[el.name];
    if (el.type === 'radio') el.checked = v === el.value;
    else if (el.type === 'checkbox') el.checked = Array.isArray(v) && v.includes(el.value);
    else el.value = v;
  }
}

let departmentsLoaded = false;

function keep() {
  const fields = fieldsOf();
  // Until the departments arrive the list is empty: keep the draft's choice.
  if (!departmentsLoaded) fields.departmentId = current.fields?.departmentId ?? '';
  current.fields = fields;
  // Files already uploaded are kept by their ids (the bytes are on the server).
  current.attachments = picker ? picker.uploaded() : current.attachments ?? [];
  draft.save(DRAFT, current);
}

function fresh() {
  return { fields: {}, attachments: [], idempotencyKey: crypto.randomUUID() };
}

// --- progressive disclosure -------------------------------------------------------------

function reveal() {
  const kind = new FormData(form).get('kind') ?? '';
  for (const section of $$('.conditional[data-kinds]', form)) {
    section.hidden = !section.dataset.kinds.split(' ').includes(kind);
  }
  $('#anonymous-explained').hidden = !$('#anonymous').checked;
}

function nearMissChanged() {
  // A near miss caused no physical harm: say so for them if they have not answered yet.
  if ($('#nearMiss-yes').checked && !form.querySelector('input[name=physicalHarm]:checked')) {
    $('#physicalHarm-NONE').checked = true;
  }
}

// --- sending ----------------------------------------------------------------------------

let sending = false;

function busy(on, text = 'Sending…') {
  sending = on;
  submit.setAttribute('aria-disabled', on ? 'true' : 'false');
  submit.textContent = on ? text : 'Send report';
}

function confirm(result, departmentName) {
  const { incident, followUpCode } = result;
  picker.clear();
  draft.clear(DRAFT);
  current = fresh();
  $('#report-view').hidden = true;
  $('#confirmation-view').hidden = false;
  $('#confirmation-reference').textContent = incident.reference;
  const anonymous = $('#anonymous').checked;
  $('#confirmation-named').hidden = anonymous;
  $('#confirmation-department').textContent = incident.department?.name ?? departmentName;
  $('#confirmation-anonymous').hidden = !(anonymous && followUpCode);
  $('#confirmation-no-code').hidden = !(anonymous && !followUpCode);
  if (followUpCode) {
    // Groups of four, wrapping only between groups on a narrow screen.
    const groups = followUpCode.split('-');
    $('#confirmation-code').replaceChildren(...groups.flatMap((g, i) => (i ? ['-', h('wbr'), g] : [g])));
  }
  form.reset();
  document.title = 'Report sent – Candour';
  focus($('#confirmation-title'));
}

async function send(event) {
  event.preventDefault();
  if (sending) return;
  if (picker.busy()) {
    const early = validateReport(values());
    if (early.length) {
      show(early);
      return;
    }
    errors.clear(summary, form);
    // The report goes with its files: wait for the uploads still going.
    busy(true, 'Waiting for the files to upload…');
    await picker.settled();
    busy(false);
  }
  // Read after the wait: what was typed meanwhile goes too.
  const v = values();
  const problems = validateReport(v);
  for (const name of picker.failed()) {
    problems.push({ ...problem('attachmentIds', 'NOT_UPLOADED', `${name} was not uploaded`), name });
  }
  if (problems.length) {
    show(problems);
    return;
  }
  errors.clear(summary, form);
  busy(true);
  try {
    const input = toInput(v, current.idempotencyKey);
    const ids = picker.ids();
    if (ids.length) input.attachmentIds = ids;
    const data = await gql(REPORT, { input });
    const dept = $('#departmentId').selectedOptions[0]?.textContent ?? '';
    confirm(data.reportIncident, dept);
  } catch (err) {
    if (err instanceof ApiError || err instanceof NetworkError) {
      show(errors.problemsOf(err));
    } else {
      throw err;
    }
  } finally {
    busy(false);
  }
}

// --- set up -----------------------------------------------------------------------------

async function departments() {
  const data = await gql(`{ me { departmentCodes } departments { id code name site } }`);
  const select = $('#departmentId');
  const list = [...data.departments].sort((a, b) => a.name.localeCompare(b.name));
  for (const d of list) {
    select.append(h('option', { value: d.id }, d.site ? `${d.name} (${d.site})` : d.name));
  }
  return { list, mine: data.me.departmentCodes };
}

/** The limits on files, for a fast answer and for the hint; the server checks them anyway. */
async function attachmentRules() {
  try {
    const { attachmentRules: r } = await gql(RULES);
    picker.setRules(r);
    $('#attachments-rules').textContent = attachmentRulesInWords(r, { anonymous: true, record: 'report' });
  } catch {
    // Without the rules the picker still works; the server says what it refuses.
  }
}

async function main() {
  const me = start();
  if (!me) return;
  $('#kind-options').append(...radios('kind', KINDS));
  $('#physicalHarm-options').append(...radios('physicalHarm', PHYSICAL_HARM));
  $('#psychologicalHarm-options').append(...radios('psychologicalHarm', PSYCHOLOGICAL_HARM));
  $('#eventType-options').append(...radios('eventType', EVENT_TYPES));

  // The draft (or today's defaults) goes in before anything is fetched, so nothing typed
  // meanwhile is overwritten.
  current = draft.load(DRAFT) ?? fresh();
  const restored = Object.keys(current.fields ?? {}).length > 0;
  if (restored) {
    restore(current.fields);
    const more = ['location', 'immediateActions', 'psychologicalHarm', 'eventType', 'category'];
    if (more.some((n) => current.fields[n] && current.fields[n].length)) $('#more-details').open = true;
  } else {
    $('#occurredAt-date').value = todayIso();
    $('#occurredAt-time').value = nowTime();
  }
  picker = filePicker($('#attachments-group'), { record: 'report', onChange: keep });
  picker.restore(current.attachments);
  reveal();
  keep();
  form.addEventListener('input', keep);
  form.addEventListener('change', (e) => {
    if (e.target.name === 'nearMiss') nearMissChanged();
    reveal();
    keep();
  });
  form.addEventListener('submit', send);
  $('#copy-code').addEventListener('click', async () => {
    const status = $('#copy-status');
    try {
      await navigator.clipboard.writeText($('#confirmation-code').textContent);
      status.textContent = 'Copied. Paste it somewhere only you can read.';
    } catch {
      status.textContent = 'It could not be copied here: select the code and copy it, or write it down.';
    }
  });

  const rules = attachmentRules();
  let depts;
  try {
    depts = await departments();
  } catch (err) {
    errors.show(summary, form, errors.problemsOf(err));
    return;
  }
  const select = $('#departmentId');
  if (restored && current.fields.departmentId) {
    select.value = current.fields.departmentId;
  } else if (!select.value) {
    // Someone who works in one department most likely reports from it.
    const own = depts.list.filter((d) => depts.mine.includes(d.code));
    if (own.length === 1) select.value = own[0].id;
  }
  departmentsLoaded = true;
  keep();
  await rules;
  form.dataset.ready = 'true';
}

main();
