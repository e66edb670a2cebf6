// GraphiQL for integrators, from the server itself: it loads under its policy, shows the
// schema's documentation, runs a query with the pages' sign-in, and asks nothing of anywhere
// else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, hospital } from '../lib/server.mjs';
import { launch, openPage, signIn, screenshots } from '../lib/browser.mjs';

let server;
let h;
let browser;

before(async () => {
  server = await startServer();
  h = await hospital(server);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('GraphiQL loads from the server, documents the schema and runs a query', async () => {
  const page = await openPage(browser, server);
  await signIn(page, h.quinn);
  await page.goto('/graphql');
  await page.locator('.graphiql-container').waitFor();
  await page.locator('.graphiql-execute-button').click();
  await page.locator('.result-window').getByText('"quinn"').waitFor();
  assert.match(await page.locator('.result-window').textContent(), /Medical Physics/);

  await page.getByRole('button', { name: /Show Documentation Explorer/i }).click();
  await page.locator('.graphiql-doc-explorer').getByText('Root Types').waitFor();
  await page.locator('.graphiql-doc-explorer').getByRole('link', { name: 'Query' }).first().click();
  await page.locator('.graphiql-doc-explorer').getByText('reportIncident').count();
  await page.locator('.graphiql-doc-explorer').getByText('incidentByReference').first().waitFor();
  // The settings dialog too: nothing in it breaks the policy.
  await page.getByRole('button', { name: /Open settings dialog/i }).click();
  await page.getByRole('dialog').waitFor();
  await page.keyboard.press('Escape');
  await screenshots(page, 'graphiql');

  const kinds = page.requests.map((u) => new URL(u).pathname);
  assert.ok(kinds.includes('/assets/vendor/graphiql/graphiql.min.js'));
  assert.ok(kinds.includes('/schema.graphql'));
  page.assertClean();
  await page.context().close();
});
