// Runs the browser tests against a real `candour serve`: on SQLite, on PostgreSQL, or both
// (the default). The unit tests of the pages' own modules run first.
//   node run.mjs [--database sqlite|postgres|both] [--test-name-pattern RE]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binary } from './lib/server.mjs';
import { CHROMIUM } from './lib/browser.mjs';

process.chdir(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const which = flag('--database') ?? 'both';
const pattern = flag('--test-name-pattern');
const databases = which === 'both' ? ['sqlite', 'postgres'] : [which];

for (const [what, path, hint] of [
  ['the candour binary', binary, 'cargo build (or set CANDOUR_BIN)'],
  ['Chromium', CHROMIUM, 'apt-get install -y chromium (or set CHROMIUM)'],
]) {
  if (!existsSync(path)) {
    console.error(`e2e: ${what} is missing at ${path}: ${hint}`);
    process.exit(2);
  }
}

const run = (label, argv, env = {}) => {
  console.log(`\n== e2e: ${label} ==`);
  const r = spawnSync(process.execPath, argv, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
};

// The pages' modules are plain .js files read as ES modules, as the browser reads them.
let ok = run('unit tests of the pages’ modules', ['--experimental-default-type=module', '--test', 'unit/']);
for (const db of databases) {
  const argv = ['--test', '--test-concurrency=1', '--test-timeout=180000'];
  if (pattern) argv.push('--test-name-pattern', pattern);
  argv.push('tests/');
  ok = run(`browser tests on ${db}`, argv, { E2E_DATABASE: db }) && ok;
}
process.exit(ok ? 0 : 1);
