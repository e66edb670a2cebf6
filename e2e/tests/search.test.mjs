// The work queue's search box: a handler finds their department's incident by a word of
// its description, sees the word marked, and follows the link; another department's
// handler finds nothing; an empty search is explained beside the box.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, hospital, assertLogsClean } from '../lib/server.mjs';
import { launch, openPage, signIn, assertAccessible, screenshots } from '../lib/browser.mjs';

let server;
let h;
let browser;
const DESCRIPTION = 'The cuff of the ambulatory blood-pressure recorder split during inflation.';
let reference;

before(async () => {
  server = await startServer();
  h = await hospital(server);
  browser = await launch();
  const report = await server.gql(h.sam,
    'mutation($i: ReportIncidentInput!) { reportIncident(input: $i) { incident { reference } } }',
    { i: {
      title: 'Blood-pressure recorder failed',
      description: DESCRIPTION,
      occurredAt: new Date(Date.now() - 3600000).toISOString(),
      departmentId: h.cardiology,
      kind: 'EQUIPMENT',
      physicalHarm: 'NONE',
    } });
  reference = report.reportIncident.incident.reference;
});

after(async () => {
  await browser?.close();
  if (server) {
    try {
      assertLogsClean(server, [DESCRIPTION]);
    } finally {
      await server.stop();
    }
  }
});

test('a handler finds their incident by a word of its description, marked, and opens it', async () => {
  const page = await openPage(browser, server);
  await signIn(page, h.hana, '/queue');
  const box = page.getByRole('searchbox', { name: 'Find incidents, actions, audits and projects' });
  await box.fill('inflation');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#search-status').getByText('1 result for “inflation”.').waitFor();
  const results = page.locator('#search-results');
  const link = results.getByRole('link', { name: `${reference}: Blood-pressure recorder failed` });
  await link.waitFor();
  assert.deepEqual(await results.locator('mark').allTextContents(), ['inflation']);
  assert.match(await results.textContent(), /Description: .*split during inflation/);
  await assertAccessible(page, 'the work queue with search results');
  await screenshots(page, 'queue-search');
  await link.click();
  await page.getByRole('heading', { name: 'Blood-pressure recorder failed' }).waitFor();
  page.assertClean();
  await page.context().close();
});

test('another department’s handler finds nothing, and an empty search is explained', async () => {
  const page = await openPage(browser, server);
  await signIn(page, h.nina, '/queue');
  const box = page.getByRole('searchbox', { name: 'Find incidents, actions, audits and projects' });
  await box.fill('inflation');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#search-status').getByText('Nothing you may see matches “inflation”.').waitFor();
  assert.equal(await page.locator('#search-results li').count(), 0);

  await box.fill('  ');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#error-summary').getByRole('link', { name: 'Enter a word to search for' }).waitFor();
  assert.equal(await box.getAttribute('aria-invalid'), 'true');
  page.assertClean();
  await page.context().close();
});
