// A real `candour serve` for the browser tests: the binary CI built, on a free port, against
// a fresh SQLite file or a fresh PostgreSQL database that is dropped afterwards, with its
// own JWT secret and data key. Tokens are minted by `candour token`, as an operator would.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const binary = resolve(process.env.CANDOUR_BIN ?? join(repoRoot, 'target', 'debug', 'candour'));
const PG_ADMIN = process.env.E2E_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function psql(sql) {
  execFileSync('psql', [PG_ADMIN, '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function databaseKind() {
  const kind = process.env.E2E_DATABASE ?? 'sqlite';
  if (kind !== 'sqlite' && kind !== 'postgres') throw new Error(`E2E_DATABASE must be sqlite or postgres, not ${kind}`);
  return kind;
}

/**
 * Starts the server. `env` adds configuration (e.g. CANDOUR_INCIDENT_CATEGORIES). Returns
 * { url, token(), gql(), logs(), stop() }.
 */
export async function startServer({ env = {} } = {}) {
  const kind = databaseKind();
  const dir = mkdtempSync(join(tmpdir(), 'candour-e2e-'));
  let databaseUrl;
  let dbName = null;
  if (kind === 'postgres') {
    dbName = `candour_e2e_${randomBytes(6).toString('hex')}`;
    psql(`CREATE DATABASE "${dbName}"`);
    const u = new URL(PG_ADMIN);
    u.pathname = `/${dbName}`;
    databaseUrl = u.toString();
  } else {
    databaseUrl = `sqlite://${join(dir, 'candour.db')}?mode=rwc`;
  }
  const baseEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    CANDOUR_DATABASE_URL: databaseUrl,
    CANDOUR_BIND: '127.0.0.1:0',
    CANDOUR_JWT_SECRET: randomBytes(32).toString('hex'),
    CANDOUR_DATA_KEY: execFileSync(binary, ['generate-data-key'], { cwd: dir }).toString().trim(),
    CANDOUR_LOG_FORMAT: 'json',
    CANDOUR_WORKERS: '2',
    RUST_LOG: 'info',
    ...env,
  };
  const child = spawn(binary, ['serve'], { cwd: dir, env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`candour serve did not start in 30 s:\n${output}`)), 30000);
    const onData = (chunk) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('candour serving')) continue;
        try {
          const p = JSON.parse(line).fields?.port;
          if (p) {
            clearTimeout(timer);
            resolvePort(p);
          }
        } catch {
          // a partial line; wait for the rest
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`candour serve exited (${code}):\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (stopping) return;
    // Every later test would fail for this one reason: say it once, with the server's last words.
    const tail = output.trim().split('\n').slice(-30).join('\n');
    console.error(`candour serve exited while the tests ran (code ${code}, signal ${signal}); its last log lines:\n${tail}`);
  });
  const url = `http://127.0.0.1:${port}`;

  const server = {
    url,
    kind,
    env: baseEnv,
    /** A token from `candour token` with these arguments (e.g. ['--role', 'handler']). */
    token(subject, args = [], env = {}) {
      return execFileSync(binary, ['token', '--subject', subject, ...args], { cwd: dir, env: { ...baseEnv, ...env } }).toString().trim();
    },
    /** Runs the binary with arguments, as an operator at the console would. */
    run(args) {
      return execFileSync(binary, args, { cwd: dir, env: baseEnv }).toString();
    },
    async gql(token, query, variables = {}) {
      const resp = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = await resp.json();
      if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
      return body.data;
    },
    logs: () => output,
    async stop() {
      stopping = true;
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (dbName) {
        try {
          psql(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
        } catch (e) {
          console.error(`could not drop ${dbName}: ${e.message}`);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A small trust: two departments and the people the stories need, with their tokens. */
export async function hospital(server) {
  const admin = server.token('ada', ['--name', 'Ada Admin', '--role', 'admin']);
  const make = async (code, name) => (await server.gql(admin,
    'mutation($i: CreateDepartmentInput!) { createDepartment(input: $i) { department { id } } }',
    { i: { code, name } })).createDepartment.department.id;
  const cardiology = await make('CARD', 'Cardiology');
  const physics = await make('PHYS', 'Medical Physics');
  return {
    cardiology,
    physics,
    admin,
    sam: server.token('sam', ['--name', 'Sam Scientist', '--email', 'sam@trust.nhs.uk', '--department', 'CARD']),
    hana: server.token('hana', ['--name', 'Hana Handler', '--email', 'hana@trust.nhs.uk', '--role', 'handler', '--department', 'CARD']),
    nina: server.token('nina', ['--name', 'Nina Handler', '--email', 'nina@trust.nhs.uk', '--role', 'handler', '--department', 'PHYS']),
    quinn: server.token('quinn', ['--name', 'Quinn Quality', '--email', 'quinn@trust.nhs.uk', '--role', 'quality_lead']),
  };
}

/** Fails when any of `secrets` appears in the server's output. */
export function assertLogsClean(server, secrets) {
  const logs = server.logs();
  for (const s of secrets) {
    if (s && logs.includes(s)) throw new Error(`the server's log contains a sensitive value: ${JSON.stringify(s.slice(0, 12))}…`);
  }
}
