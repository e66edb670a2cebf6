// Evidence files: a reporter chooses a photo and a PDF on the report form, watches each
// upload finish and sends the report with them; a handler finds both on the incident page,
// downloads them (the bytes read back are the bytes sent), attaches another and removes
// one with a reason. A file the server refuses shows the server's words beside it and the
// report goes without it; an anonymous report waits for its uploads, and the server's
// refusal of a document on it is shown beside the picker; the reporter adds a file later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, hospital, assertLogsClean } from '../lib/server.mjs';
import { launch, openPage, signIn, reportForm, assertAccessible, screenshots } from '../lib/browser.mjs';

let server;
let h;
let browser;
const secrets = [];

// A 1×1 PNG with nothing but IHDR, IDAT and IEND: no metadata for the server to take out,
// so what is stored is what was sent.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const PDF = Buffer.from([
  '%PDF-1.4',
  '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
  '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj',
  '3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj',
  'trailer << /Root 1 0 R >>',
  '%%EOF',
  '',
].join('\n'));
// A web page dressed up as a photo: refused by what it is, whatever it is called.
const HTML = Buffer.from('<!DOCTYPE html><html><body><script>alert("evil")</script></body></html>\n');

before(async () => {
  server = await startServer();
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

const FILES = `query($ref: String!) { incidentByReference(reference: $ref) {
  anonymous reporter { name } attachments { id fileName contentType size status } } }`;

async function attachmentsOf(reference) {
  return (await server.gql(h.quinn, FILES, { ref: reference })).incidentByReference;
}

async function fillNearMiss(page, title, description) {
  secrets.push(description);
  await page.getByLabel('Summary').fill(title);
  await page.getByLabel('What happened?').fill(description);
  await page.getByRole('radio', { name: 'Equipment or medical device' }).check();
  await page.getByRole('radio', { name: 'Yes, it was stopped in time' }).check();
}

const picker = (page, label = 'Photos or documents (optional)') => page.getByLabel(label, { exact: true });

/** Waits until `name` is announced as uploaded, and checks its progress bar is full. */
async function uploaded(page, name) {
  await page.getByRole('status').filter({ hasText: `${name} uploaded` }).waitFor({ state: 'attached' });
  const bar = page.getByRole('progressbar', { name: `Uploading ${name}` });
  assert.equal(await bar.evaluate((el) => el.tagName), 'PROGRESS');
  assert.deepEqual(await bar.evaluate((el) => [el.value, el.max]), [100, 100], `${name} reached the end`);
  const item = page.locator('.file-list__item').filter({ hasText: name });
  assert.match(await item.textContent(), /Uploaded/);
}

/** Clicks the button and reads the file the browser downloads. */
async function download(page, name) {
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name }).click(),
  ]);
  return { name: file.suggestedFilename(), bytes: await readFile(await file.path()) };
}

/** What the server says about these bytes, uploaded the way the page uploads them. */
async function refusalOf(token, name, bytes) {
  const resp = await fetch(`${server.url}/attachments?fileName=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
  assert.ok(resp.status >= 400 && resp.status < 500, `the server refuses ${name} (${resp.status})`);
  const body = await resp.json();
  return body.errors[0].message;
}

const sentence = (m) => m.charAt(0).toUpperCase() + m.slice(1);

test('a photo and a PDF go with the report, and the handler downloads exactly what was sent', async () => {
  const page = await openPage(browser, server);
  await reportForm(page, h.sam);
  await fillNearMiss(page, 'Syringe driver label misprinted', 'The syringe driver label printed the rate as 10 ml/h instead of 1.0 ml/h.');
  // The limits are in the hint, from the server's rules.
  assert.match(await page.locator('#attachments-hint').textContent(), /up to \d+ files to one report, of up to [\d.]+ MB each/);
  await picker(page).setInputFiles([
    { name: 'label.png', mimeType: 'image/png', buffer: PNG },
    { name: 'printout.pdf', mimeType: 'application/pdf', buffer: PDF },
  ]);
  await uploaded(page, 'label.png');
  await uploaded(page, 'printout.pdf');
  assert.match(await page.locator('.file-list__item').filter({ hasText: 'printout.pdf' }).textContent(), new RegExp(`\\(${PDF.length} bytes\\)`));
  await assertAccessible(page, 'the report form with two files uploaded');
  await screenshots(page, 'report-attachments');
  // A reload keeps the draft and its uploaded files.
  await page.reload();
  await page.locator('#report-form[data-ready]').waitFor();
  assert.deepEqual(await page.locator('.file-list__name').allTextContents(), [`label.png (${PNG.length} bytes)`, `printout.pdf (${PDF.length} bytes)`]);
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  const reference = (await page.locator('#confirmation-reference').textContent()).trim();
  const made = await attachmentsOf(reference);
  assert.deepEqual(made.attachments.map((a) => [a.fileName, a.contentType, a.size]).sort(), [
    ['label.png', 'image/png', PNG.length],
    ['printout.pdf', 'application/pdf', PDF.length],
  ]);
  // The bytes went in the body, the token in a header: neither in an address.
  assert.ok(page.requests.some((u) => u.includes('/attachments?fileName=label.png')));
  assert.ok(page.requests.every((u) => !u.includes(h.sam)), 'no address carries the token');
  page.assertClean();
  await page.context().close();

  // The handler sees both files, and downloads each.
  const handler = await openPage(browser, server);
  await signIn(handler, h.hana, `/incidents/${reference}`);
  await handler.locator('#incident[aria-busy="false"]').waitFor();
  const files = handler.locator('#incident ul.file-list').first();
  for (const name of ['label.png', 'printout.pdf']) {
    await files.locator('.file-list__item').filter({ hasText: name }).waitFor();
  }
  const pdf = await download(handler, 'Download printout.pdf');
  assert.equal(pdf.name, 'printout.pdf');
  assert.ok(pdf.bytes.equals(PDF), 'the PDF downloaded is the PDF sent');
  const png = await download(handler, 'Download label.png');
  assert.equal(png.name, 'label.png');
  assert.ok(png.bytes.equals(PNG), 'the photo downloaded is the photo sent');
  await handler.getByRole('status').filter({ hasText: 'Downloaded label.png.' }).waitFor({ state: 'attached' });

  // Another photo, added later from the incident page.
  await picker(handler, 'Add photos or documents').setInputFiles([{ name: 'after-fix.png', mimeType: 'image/png', buffer: PNG }]);
  await uploaded(handler, 'after-fix.png');
  await assertAccessible(handler, 'the incident page with its files and a file waiting to be attached');
  await screenshots(handler, 'incident-attachments');
  await handler.getByRole('button', { name: 'Attach the files' }).click();
  await handler.locator('#done').filter({ hasText: 'The file is attached.' }).waitFor();
  await files.locator('.file-list__item').filter({ hasText: 'after-fix.png' }).waitFor();
  // The picker is empty again.
  await handler.locator('#attach-files-list .file-list__item').waitFor({ state: 'detached' });

  // Removing a file needs a reason, and says why it went.
  const item = files.locator('.file-list__item').filter({ hasText: 'label.png' });
  await item.getByText('Remove this file').click();
  await item.getByRole('button', { name: 'Remove the file' }).click();
  await handler.locator('#error-summary').getByText('Give the reason for removing the file').waitFor();
  await item.getByLabel('Why is label.png being removed?').fill('Shows a patient’s wristband');
  await item.getByRole('button', { name: 'Remove the file' }).click();
  await handler.locator('#done').filter({ hasText: 'label.png is removed.' }).waitFor();
  const removed = files.locator('.file-list__item').filter({ hasText: 'label.png' });
  assert.match(await removed.textContent(), /Removed.*Shows a patient’s wristband/);
  assert.equal(await removed.getByRole('button', { name: 'Download label.png' }).count(), 0);
  await assertAccessible(handler, 'the incident page with a removed file');
  assert.ok(handler.requests.every((u) => !u.includes(h.hana)), 'no address carries the token');
  handler.assertClean();
  await handler.context().close();
});

test('a file the server refuses shows its words beside it, and the report goes without it', async () => {
  const expected = sentence(await refusalOf(h.sam, 'evil.png', HTML));
  // The browser logs the refused upload as a failed load.
  const page = await openPage(browser, server, { allow: [/Failed to load resource/] });
  await reportForm(page, h.sam);
  await fillNearMiss(page, 'Infusion pump alarm silent', 'The occlusion alarm of an infusion pump did not sound during a check.');
  await picker(page).setInputFiles([
    { name: 'evil.png', mimeType: 'image/png', buffer: HTML },
    { name: 'pump.png', mimeType: 'image/png', buffer: PNG },
  ]);
  await uploaded(page, 'pump.png');
  const evil = page.locator('.file-list__item').filter({ hasText: 'evil.png' });
  await evil.locator('.error-message').waitFor();
  assert.equal((await evil.locator('.error-message').textContent()).replace(/^Error: /, ''), expected, 'the server’s own words');
  await page.getByRole('status').filter({ hasText: 'evil.png could not be uploaded' }).waitFor({ state: 'attached' });
  assert.equal(await evil.getByRole('progressbar').count(), 0, 'no progress bar for a refused file');

  // Sending with the refused file still listed asks for a decision about it.
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.locator('#error-summary').getByRole('link', { name: 'Remove evil.png from the list, or choose it again: it was not uploaded' }).waitFor();
  await assertAccessible(page, 'the report form with a refused file');
  await screenshots(page, 'report-attachment-refused');
  await page.getByRole('button', { name: 'Remove evil.png' }).click();
  assert.equal(await evil.count(), 0);
  await page.getByRole('status').filter({ hasText: 'evil.png removed from the list' }).waitFor({ state: 'attached' });
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Remove pump.png', 'focus stays in the list');

  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  const reference = (await page.locator('#confirmation-reference').textContent()).trim();
  assert.deepEqual((await attachmentsOf(reference)).attachments.map((a) => a.fileName), ['pump.png']);
  page.assertClean();
  await page.context().close();
});

test('an anonymous report waits for its uploads, and may carry photos only', async () => {
  const page = await openPage(browser, server);
  // Slow uploads, so the report is sent while they are still going.
  await page.route((url) => url.pathname === '/attachments', async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  await reportForm(page, h.sam);
  await fillNearMiss(page, 'Sharps bin overfilled', 'The sharps bin in the treatment room was filled past the line.');
  await page.getByRole('checkbox', { name: 'Report anonymously' }).check();
  await picker(page).setInputFiles([
    { name: 'bin.png', mimeType: 'image/png', buffer: PNG },
    { name: 'rota.pdf', mimeType: 'application/pdf', buffer: PDF },
  ]);
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('button', { name: 'Waiting for the files to upload…' }).waitFor();
  // The server will not take a document on an anonymous report: its words, beside the picker.
  const message = page.locator('[data-field="attachmentIds"] > .error-message');
  await message.waitFor();
  assert.match(await message.textContent(), /anonymous/i);
  await uploaded(page, 'bin.png');
  await uploaded(page, 'rota.pdf');
  assert.match(await page.locator('#attachments-hint').textContent(), /An anonymous report can carry photos \(JPEG, PNG, WebP\) only/);
  await assertAccessible(page, 'the anonymous report refused with a document');
  await page.getByRole('button', { name: 'Remove rota.pdf' }).click();
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.getByRole('heading', { name: 'Report sent' }).waitFor();
  const reference = (await page.locator('#confirmation-reference').textContent()).trim();
  const made = await attachmentsOf(reference);
  assert.equal(made.anonymous, true);
  assert.equal(made.reporter, null);
  // Its file keeps nothing of the reporter, not even the name it had.
  assert.deepEqual(made.attachments.map((a) => [a.fileName, a.contentType]), [['evidence-1.png', 'image/png']]);
  page.assertClean();
  await page.context().close();
});

test('the reporter adds a photo to their report later, and cannot remove files', async () => {
  secrets.push('The sample fridge alarm sounded for an hour before anyone came.');
  const made = (await server.gql(h.sam,
    'mutation($i: ReportIncidentInput!) { reportIncident(input: $i) { incident { reference } } }',
    { i: {
      title: 'Fridge alarm ignored', description: 'The sample fridge alarm sounded for an hour before anyone came.',
      occurredAt: new Date(Date.now() - 3600000).toISOString(), departmentId: h.cardiology, kind: 'EQUIPMENT', physicalHarm: 'NONE',
    } })).reportIncident.incident;
  const page = await openPage(browser, server);
  await signIn(page, h.sam, `/incidents/${made.reference}`);
  await page.locator('#incident[aria-busy="false"]').waitFor();
  assert.equal(await page.locator('[data-field="attachments"]').getByText('None attached.').count(), 1);
  await picker(page, 'Add photos or documents').setInputFiles([{ name: 'fridge.png', mimeType: 'image/png', buffer: PNG }]);
  await uploaded(page, 'fridge.png');
  await page.getByRole('button', { name: 'Attach the files' }).click();
  await page.locator('#done').filter({ hasText: 'The file is attached.' }).waitFor();
  const item = page.locator('#incident ul.file-list').first().locator('.file-list__item').filter({ hasText: 'fridge.png' });
  await item.waitFor();
  assert.equal(await item.getByText('Remove this file').count(), 0, 'removing is for those who handle it');
  assert.deepEqual((await attachmentsOf(made.reference)).attachments.map((a) => a.fileName), ['fridge.png']);
  await assertAccessible(page, 'the reporter’s incident page with a file');
  page.assertClean();
  await page.context().close();
});
