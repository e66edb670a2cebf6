// Reporting through the form: a near miss with only the questions that matter, an anonymous
// report and its follow-up code, one incident however the form is sent, a draft that
// survives a reload, the error summary for the form's and the server's problems, the
// questions each kind asks (and only those sent), and the whole form by keyboard alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, hospital, assertLogsClean } from '../lib/server.mjs';
import { launch, openPage, signIn, reportForm, assertAccessible, screenshots } from '../lib/browser.mjs';

let server;
let h;
let browser;
const secrets = [];

before(async () => {
  server = await startServer({ env: { CANDOUR_INCIDENT_CATEGORIES: '["Medication", "Sample handling"]' } });
  h = await hospital(server);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (server) {
    try {
      assertLogsClean(server, secrets);
    } finally {
      await server.stop();
    }
  }
});

const COUNT = `query($s: String) { incidents(first: 50, filter: { search: $s }) {
  totalCount edges { node { reference title status kind nearMiss physicalHarm anonymous description
    reporter { name } patient { nhsNumber name dateOfBirth } equipment { assetId } regulatoryFacts
    lfpseAnswers { element values } } } } }`;

async function incidentsTitled(title) {
  const data = await server.gql(h.quinn, COUNT, { s: title });
  return data.incidents.edges.map((e) => e.node).filter((n) => n.title === title);
}

/** The questions a near miss needs: summary, what happened, kind, near miss. */
async function fillNearMiss(page, title, description) {
  secrets.push(description);
  await page.getByLabel('Summary').fill(title);
  await page.getByLabel('What happened?').fill(description);
  await page.getByRole('radio', { name: 'Patient safety' }).check();
  await page.getByRole('radio', { name: 'Yes, it was stopped in time' }).check();
}

test('a near miss is reported with five answers and the confirmation gives its reference', async () => {
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  const started = Date.now();
  // The time is filled in, and Sam's own department is chosen for him.
  assert.match(await page.getByLabel('Date', { exact: true }).inputValue(), /^\d{4}-\d{2}-\d{2}$/);
  assert.match(await page.getByLabel('Time', { exact: true }).inputValue(), /^\d{2}:\d{2}$/);
  assert.equal(await page.getByLabel('Which department was it in?').locator('option:checked').textContent(), 'Cardiology');
  await assertAccessible(page, 'the report form');
  await screenshots(page, 'report-form');

  await fillNearMiss(page, 'ECG leads swapped before recording', 'Limb leads were reversed on a 12-lead ECG; spotted and repeated before reporting.');
  // A near miss caused no physical harm: the form answers that for them.
  assert.equal(await page.getByRole('radio', { name: 'No physical harm' }).isChecked(), true);
  await page.getByRole('button', { name: 'Send report' }).click();

  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  const reference = (await page.locator('#confirmation-reference').textContent()).trim();
  assert.match(reference, /^INC-\d{4}-\d{6}$/);
  assert.ok(Date.now() - started < 60000, 'under a minute');
  assert.equal(await page.title(), 'Report sent – Candour');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirmation-title', 'focus moves to the confirmation');
  assert.equal(await page.locator('#confirmation-department').textContent(), 'Cardiology');
  assert.equal(await page.locator('#confirmation-anonymous').isVisible(), false);
  await assertAccessible(page, 'the confirmation');
  await screenshots(page, 'report-confirmation');

  const [made] = await incidentsTitled('ECG leads swapped before recording');
  assert.equal(made.reference, reference);
  assert.equal(made.nearMiss, true);
  assert.equal(made.physicalHarm, 'NONE');
  assert.equal(made.kind, 'PATIENT_SAFETY');
  assert.equal(made.anonymous, false);
  assert.equal(made.reporter.name, 'Sam Scientist');
  // The draft is gone once the report is sent.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.draft.report')), null);
  page.assertClean();
  await page.context().close();
});

test('an anonymous report shows its follow-up code once, and the follow-up page shows its status', async () => {
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  await fillNearMiss(page, 'Door to the hot lab left open', 'The hot lab door was propped open during a delivery; closed by a colleague.');
  await page.getByRole('radio', { name: 'Environment or premises' }).check();
  await page.getByRole('checkbox', { name: 'Report anonymously' }).check();
  // The honest explanation appears with the choice.
  assert.match(await page.locator('#anonymous-explained').textContent(), /nobody can ask you for more details/);
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();

  const code = (await page.locator('#confirmation-code').textContent()).trim();
  assert.match(code, /^([0-9A-Z]{4}-){7}[0-9A-Z]{4}$/);
  assert.match(await page.locator('#confirmation-anonymous').textContent(), /cannot be shown again or recovered/);
  assert.equal(await page.locator('#confirmation-named').isVisible(), false);
  await page.getByRole('button', { name: 'Copy the code' }).click();
  await page.getByText('Copied.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code);
  await assertAccessible(page, 'the anonymous report’s confirmation');
  await screenshots(page, 'report-anonymous-confirmation');
  const reference = (await page.locator('#confirmation-reference').textContent()).trim();

  const [made] = await incidentsTitled('Door to the hot lab left open');
  assert.equal(made.anonymous, true);
  assert.equal(made.reporter, null, 'nothing links it to Sam');

  // Another browser, nobody signed in: the code opens the report's progress.
  const visitor = await openPage(browser, server);
  await visitor.goto('/follow-up');
  await visitor.getByRole('button', { name: 'Show the report’s progress' }).click();
  await visitor.getByRole('link', { name: 'Enter your follow-up code' }).waitFor();
  await visitor.getByLabel('Follow-up code').fill('AAAA-BBBB-CCCC');
  await visitor.getByRole('button', { name: 'Show the report’s progress' }).click();
  await visitor.getByRole('link', { name: /No report has this code/ }).waitFor();
  await visitor.getByLabel('Follow-up code').fill(code.toLowerCase().replaceAll('-', ' '));
  await visitor.getByRole('button', { name: 'Show the report’s progress' }).click();
  await visitor.getByRole('heading', { name: `Report ${reference}` }).waitFor();
  assert.match(await visitor.locator('#result-body').textContent(), /Reported, waiting for review/);
  assert.equal(await visitor.locator('#error-summary').isVisible(), false);
  await assertAccessible(visitor, 'the follow-up page');
  await screenshots(visitor, 'follow-up');
  // The look-up sent no token, and the code never went into a URL.
  assert.ok(visitor.requests.every((u) => !u.includes(code) && !u.includes(code.replaceAll('-', ''))));
  visitor.assertClean();
  page.assertClean();
  await visitor.context().close();
  await page.context().close();
});

test('a double click makes one incident', async () => {
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  await fillNearMiss(page, 'Double clicked report', 'The send button was clicked twice in a hurry.');
  await page.getByRole('button', { name: 'Send report' }).dblclick();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  await page.waitForTimeout(500);
  assert.equal((await incidentsTitled('Double clicked report')).length, 1);
  page.assertClean();
  await page.context().close();
});

test('sending again after the answer was lost makes one incident', async () => {
  const page = await openPage(browser, server, { allow: [/Failed to load resource/, /net::ERR_FAILED/] });
  await reportForm(page, h.sam);
  await fillNearMiss(page, 'Answer lost on the way back', 'The ward Wi-Fi dropped just as the report was sent.');
  // The first submission reaches the server, but its answer never reaches the page.
  let dropped = 0;
  await page.route('**/graphql', async (route) => {
    if (dropped === 0 && route.request().postData()?.includes('reportIncident')) {
      dropped += 1;
      await route.fetch();
      await route.abort('failed');
      return;
    }
    await route.continue();
  });
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByText('Candour could not be reached').waitFor();
  assert.equal(dropped, 1);
  assert.equal((await incidentsTitled('Answer lost on the way back')).length, 1, 'the first attempt made it');
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  assert.equal((await incidentsTitled('Answer lost on the way back')).length, 1, 'the second attempt made no other');
  page.assertClean();
  await page.context().close();
});

test('a draft survives a reload, patient details and all, and signing out clears it', async () => {
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  secrets.push('Ada Lovelace', '9434765919');
  await page.getByLabel('Summary').fill('Wrong patient label on sample');
  await page.getByLabel('What happened?').fill('A blood sample arrived with another patient label.');
  await page.getByLabel('Which department was it in?').selectOption({ label: 'Medical Physics' });
  await page.getByRole('radio', { name: 'Patient safety' }).check();
  await page.getByLabel('NHS number').fill('943 476 5919');
  await page.getByLabel('Name', { exact: true }).fill('Ada Lovelace');
  await page.getByRole('radio', { name: 'Low physical harm' }).check();
  await page.getByText('More details (optional)').click();
  await page.getByLabel('Where exactly?').fill('Phlebotomy');
  const key = await page.evaluate(() => JSON.parse(sessionStorage.getItem('candour.draft.report')).idempotencyKey);

  await page.reload();
  await page.locator('#report-form[data-ready]').waitFor();
  assert.equal(await page.getByLabel('Which department was it in?').locator('option:checked').textContent(), 'Medical Physics');
  assert.equal(await page.getByLabel('Summary').inputValue(), 'Wrong patient label on sample');
  assert.equal(await page.getByRole('radio', { name: 'Patient safety' }).isChecked(), true);
  assert.equal(await page.getByLabel('NHS number').isVisible(), true, 'the patient section is shown again');
  assert.equal(await page.getByLabel('NHS number').inputValue(), '943 476 5919');
  assert.equal(await page.getByRole('radio', { name: 'Low physical harm' }).isChecked(), true);
  assert.equal(await page.getByLabel('Where exactly?').inputValue(), 'Phlebotomy');
  const after = await page.evaluate(() => JSON.parse(sessionStorage.getItem('candour.draft.report')).idempotencyKey);
  assert.equal(after, key, 'the same idempotency key: a resubmission is the same report');

  // Nothing of it is kept where the next person at this computer would find it.
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('You have signed out').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.draft.report')), null);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('candour.token')), null);
  page.assertClean();
  await page.context().close();
});

test('the error summary lists the form’s problems, in the server’s words, linked to each field', async () => {
  const before = (await server.gql(h.quinn, '{ incidents { totalCount } }')).incidents.totalCount;
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  await page.getByLabel('Time', { exact: true }).fill('');
  await page.getByRole('radio', { name: 'Patient safety' }).check();
  await page.getByLabel('NHS number').fill('943 476 5918');
  await page.getByRole('radio', { name: 'Yes, it was stopped in time' }).check();
  await page.getByRole('radio', { name: 'Moderate physical harm' }).check();
  await page.getByRole('button', { name: 'Send report' }).click();

  const summary = page.locator('#error-summary');
  await summary.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'error-summary', 'focus moves to the summary');
  assert.match(await page.title(), /^Error: /);
  const links = await summary.getByRole('link').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
  assert.deepEqual(links, [
    ['Enter a short summary of what happened', '#title'],
    ['Describe what happened', '#description'],
    ['Enter the time it happened (roughly is fine)', '#occurredAt-date'],
    ['This is not a valid NHS number: check each digit', '#patient-nhsNumber'],
    ['A near miss did not reach the patient, so it caused no physical harm: choose ‘No physical harm’, or answer ‘No, it happened’', '#nearMiss-yes'],
  ]);
  // The same words beside the field, announced with it.
  const described = await page.getByLabel('NHS number').getAttribute('aria-describedby');
  assert.match(described, /patient-nhsNumber-error/);
  assert.match(await page.locator('#patient-nhsNumber-error').textContent(), /Error: This is not a valid NHS number/);
  await summary.getByRole('link', { name: /not a valid NHS number/ }).click();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'patient-nhsNumber');
  await assertAccessible(page, 'the report form with errors');
  await screenshots(page, 'report-errors');
  const now = (await server.gql(h.quinn, '{ incidents { totalCount } }')).incidents.totalCount;
  assert.equal(now, before, 'nothing was sent');
  page.assertClean();
  await page.context().close();
});

test('a problem only the server can find is shown in the same summary, linked to its field', async () => {
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  await fillNearMiss(page, 'Category the trust does not use', 'A category outside the configured taxonomy was typed.');
  await page.getByText('More details (optional)').click();
  await page.getByLabel('Category').fill('Paperwork');
  await page.getByRole('button', { name: 'Send report' }).click();
  const link = page.locator('#error-summary').getByRole('link', { name: 'Enter one of the categories your trust uses, or leave it empty' });
  await link.waitFor();
  assert.equal(await link.getAttribute('href'), '#category');
  assert.equal(await page.getByLabel('Category').getAttribute('aria-invalid'), 'true');
  assert.equal((await incidentsTitled('Category the trust does not use')).length, 0);
  // Fixed, it goes.
  await page.getByLabel('Category').fill('Sample handling');
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  assert.equal((await incidentsTitled('Category the trust does not use')).length, 1);
  page.assertClean();
  await page.context().close();
});

test('the whole form can be completed with the keyboard alone', async () => {
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  const k = page.keyboard;
  const tabTo = async (id, max = 60) => {
    for (let i = 0; i < max; i++) {
      await k.press('Tab');
      if (await page.evaluate((want) => document.activeElement?.id === want, id)) return;
    }
    throw new Error(`Tab never reached #${id}`);
  };
  // The skip link comes first and goes to the form.
  await k.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to main content');
  await k.press('Enter');
  await tabTo('title');
  await k.type('Probe cable frayed');
  await k.press('Tab');
  await k.type('The ultrasound probe cable is frayed near the connector.');
  secrets.push('The ultrasound probe cable is frayed near the connector.');
  await tabTo('kind-PATIENT_SAFETY');
  // Arrow keys move through a radio group: Patient safety, Staff safety, Equipment.
  await k.press('ArrowDown');
  await k.press('ArrowDown');
  assert.equal(await page.getByRole('radio', { name: 'Equipment or medical device' }).isChecked(), true);
  await tabTo('equipment-assetId');
  await k.type('US-0042');
  await k.press('Tab');
  await k.press('Tab');
  await k.press('Tab');
  await k.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'fact-MEDICAL_DEVICE');
  await k.press('Space');
  await tabTo('nearMiss-yes');
  await k.press('Space');
  await tabTo('physicalHarm-NONE');
  assert.equal(await page.getByRole('radio', { name: 'No physical harm' }).isChecked(), true);
  await tabTo('submit');
  await k.press('Enter');
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirmation-title');
  const [made] = await incidentsTitled('Probe cable frayed');
  assert.equal(made.kind, 'EQUIPMENT');
  assert.equal(made.equipment.assetId, 'US-0042');
  assert.deepEqual(made.regulatoryFacts, ['MEDICAL_DEVICE']);
  page.assertClean();
  await page.context().close();
});

test('a radiation incident asks for the patient and the dose, and the dose reaches the description', async () => {
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  const description = 'A CT head was done on the wrong patient after a name mix-up.';
  secrets.push(description, 'Grace Hopper', '4010232137');
  await page.getByLabel('Summary').fill('CT on the wrong patient');
  await page.getByLabel('What happened?').fill(description);
  await page.getByLabel('Which department was it in?').selectOption({ label: 'Medical Physics' });
  await page.getByRole('radio', { name: 'Radiation' }).check();
  for (const shown of ['NHS number', 'Examination or treatment', 'Asset number']) {
    assert.equal(await page.getByLabel(shown).isVisible(), true, `${shown} is asked`);
  }
  await page.getByLabel('NHS number').fill('4010232137');
  await page.getByLabel('Name', { exact: true }).fill('Grace Hopper');
  await page.getByLabel('Examination or treatment').fill('CT head');
  await page.getByLabel('Intended exposure or dose').fill('none');
  await page.getByLabel('Exposure or dose given, or your estimate').fill('2 mSv');
  await page.getByRole('checkbox', { name: /much greater than intended/ }).check();
  await page.getByRole('radio', { name: 'No, it happened' }).check();
  await page.getByRole('radio', { name: 'Low physical harm' }).check();
  await screenshots(page, 'report-radiation');
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  const [made] = await incidentsTitled('CT on the wrong patient');
  assert.equal(made.kind, 'RADIATION');
  assert.equal(made.patient.nhsNumber, '4010232137');
  assert.equal(made.patient.name, 'Grace Hopper');
  assert.deepEqual(made.regulatoryFacts, ['SIGNIFICANT_UNINTENDED_EXPOSURE']);
  assert.match(made.description, /Radiation dose\nExamination or treatment: CT head\nIntended exposure or dose: none\nExposure or dose given \(or estimated\): 2 mSv$/);
  page.assertClean();
  await page.context().close();
});

/** The `ReportIncidentInput`s the page sends, as it sends them. */
function sentInputs(page) {
  const sent = [];
  page.on('request', (req) => {
    const body = req.postData();
    if (req.url().endsWith('/graphql') && body?.includes('reportIncident')) sent.push(JSON.parse(body).variables.input);
  });
  return sent;
}

test('questions a kind does not use are hidden, and neither checked nor sent', async () => {
  const page = await openPage(browser, server);
  const sent = sentInputs(page);
  await reportForm(page, h.sam);
  // One question from each section that depends on the kind.
  const questions = {
    patient: page.getByLabel('NHS number'),
    equipment: page.getByLabel('Asset number'),
    dose: page.getByLabel('Examination or treatment'),
    staff: page.getByRole('checkbox', { name: /A serious injury/ }),
    ig: page.getByRole('checkbox', { name: /People could come to harm/ }),
    lfpse: page.getByRole('checkbox', { name: 'Medicines' }),
  };
  const shown = async () => {
    const out = [];
    for (const [section, q] of Object.entries(questions)) if (await q.isVisible()) out.push(section);
    return out;
  };
  assert.deepEqual(await shown(), [], 'nothing is asked before a kind is chosen');
  for (const [kind, expected] of [
    ['Patient safety', ['patient', 'lfpse']],
    ['Staff safety', ['staff']],
    ['Equipment or medical device', ['equipment']],
    ['Radiation', ['patient', 'equipment', 'dose', 'lfpse']],
    ['Information governance', ['ig']],
    ['Environment or premises', []],
    ['Something else', []],
  ]) {
    await page.getByRole('radio', { name: kind, exact: true }).check();
    assert.deepEqual(await shown(), expected, `the questions for ${kind}`);
  }

  // Everything a radiation incident asks, with an NHS number that fails its check digit.
  const description = 'The mobile X-ray unit’s exposure switch stuck on during a ward round.';
  secrets.push(description, 'Alan Turing');
  await page.getByLabel('Summary').fill('Mobile X-ray exposure switch stuck');
  await page.getByLabel('What happened?').fill(description);
  await page.getByRole('radio', { name: 'Radiation' }).check();
  await page.getByLabel('NHS number').fill('943 476 5918');
  await page.getByLabel('Name', { exact: true }).fill('Alan Turing');
  await page.getByLabel('Asset number').fill('XR-0007');
  await page.getByRole('checkbox', { name: 'It is a medical device' }).check();
  await page.getByLabel('Examination or treatment').fill('Chest X-ray');
  await page.getByLabel('Exposure or dose given, or your estimate').fill('unknown');
  await page.getByRole('checkbox', { name: /much greater than intended/ }).check();
  await page.getByRole('checkbox', { name: 'A medical device or equipment' }).check();
  await page.getByRole('radio', { name: 'Yes, it was stopped in time' }).check();
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.locator('#error-summary').getByRole('link', { name: /not a valid NHS number/ }).waitFor();
  assert.equal(sent.length, 0);

  // It was the equipment, not the patient: the patient and dose questions go, and with
  // them their answers and the NHS number's problem.
  await page.getByRole('radio', { name: 'Equipment or medical device' }).check();
  assert.deepEqual(await shown(), ['equipment']);
  assert.equal(await page.getByLabel('Asset number').inputValue(), 'XR-0007', 'the shared section keeps its answers');
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  assert.equal(sent.length, 1);
  const [equipment] = sent;
  assert.equal(equipment.kind, 'EQUIPMENT');
  assert.equal('patient' in equipment, false, 'no patient is sent');
  assert.deepEqual(equipment.equipment, { assetId: 'XR-0007' });
  assert.deepEqual(equipment.regulatoryFacts, ['MEDICAL_DEVICE'], 'the dose section’s fact is not sent');
  assert.equal('lfpseAnswers' in equipment, false, 'LFPSE’s questions are not sent for equipment');
  assert.equal(equipment.description, description, 'no dose answers in the description');
  const [made] = await incidentsTitled('Mobile X-ray exposure switch stuck');
  assert.equal(made.kind, 'EQUIPMENT');
  assert.equal(made.patient, null);
  assert.equal(made.equipment.assetId, 'XR-0007');
  assert.deepEqual(made.regulatoryFacts, ['MEDICAL_DEVICE']);
  assert.equal(made.description, description);

  // The other way round: equipment answered, then the kind changed to patient safety.
  await page.getByRole('link', { name: 'Report another incident' }).click();
  await page.locator('#report-form[data-ready]').waitFor();
  assert.deepEqual(await shown(), [], 'a fresh form asks nothing by kind');
  await page.getByLabel('Summary').fill('Infusion given to the wrong patient');
  secrets.push('Two patients’ infusions were swapped at the bedside.');
  await page.getByLabel('What happened?').fill('Two patients’ infusions were swapped at the bedside.');
  await page.getByRole('radio', { name: 'Equipment or medical device' }).check();
  await page.getByLabel('Asset number').fill('INF-0099');
  await page.getByLabel('Serial number').fill('SN-123');
  await page.getByRole('checkbox', { name: 'It is a medical device' }).check();
  await page.getByRole('radio', { name: 'Patient safety' }).check();
  assert.deepEqual(await shown(), ['patient', 'lfpse']);
  await page.getByLabel('NHS number').fill('943 476 5919');
  // The national form's questions: what was involved, and how worried the reporter is.
  await page.getByRole('checkbox', { name: 'Medicines' }).check();
  await page.getByRole('radio', { name: 'Fairly worried' }).check();
  await page.getByRole('radio', { name: 'No, it happened' }).check();
  await page.getByRole('radio', { name: 'Low physical harm' }).check();
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  assert.equal(sent.length, 2);
  const patientSafety = sent[1];
  assert.equal(patientSafety.kind, 'PATIENT_SAFETY');
  assert.equal('equipment' in patientSafety, false, 'no equipment is sent');
  assert.equal('regulatoryFacts' in patientSafety, false, 'the equipment section’s fact is not sent');
  assert.deepEqual(patientSafety.lfpseAnswers, [
    { element: 'AdverseEventAgent.InvolvedAgents', values: ['4'] },
    { element: 'AdverseEventClassification.LevelOfConcern', values: ['4'] },
  ]);
  assert.equal(patientSafety.patient.nhsNumber.replaceAll(' ', ''), '9434765919');
  const [second] = await incidentsTitled('Infusion given to the wrong patient');
  assert.equal(second.equipment, null);
  assert.deepEqual(second.regulatoryFacts, []);
  assert.deepEqual(second.lfpseAnswers, [
    { element: 'AdverseEventAgent.InvolvedAgents', values: ['4'] },
    { element: 'AdverseEventClassification.LevelOfConcern', values: ['4'] },
  ]);
  assert.equal(second.patient.nhsNumber, '9434765919');
  page.assertClean();
  await page.context().close();
});
