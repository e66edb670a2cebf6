// Downloads: CSV files of what a page shows (`GET /export/<list>.csv?filter=…`) and evidence
// files (`GET /attachments/<id>`), each fetched with the signed-in token in the
// Authorization header (never in an address, where it would reach history and logs), then
// saved from a blob. A page that shows several lists of one kind (one per department) gets
// one CSV file: the first answer whole, the others without their header row.
import { token, signOut } from './session.js';
import { ApiError, NetworkError, refusal } from './api.js';

/** The CSV of one list for one filter, as text (the fetch decoder drops the byte order mark). */
async function fetchCsv(list, filter, orderBy) {
  const t = token();
  if (!t) throw new NetworkError('not signed in');
  const params = new URLSearchParams();
  if (filter) params.set('filter', JSON.stringify(filter));
  if (orderBy) params.set('orderBy', JSON.stringify(orderBy));
  let resp;
  try {
    resp = await fetch(`/export/${list}.csv?${params}`, {
      headers: { Authorization: `Bearer ${t}`, Accept: 'text/csv, application/json;q=0.5' },
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new NetworkError(e.message);
  }
  if (!resp.ok) {
    let body = null;
    try {
      body = await resp.json();
    } catch {
      throw new NetworkError(`the server answered ${resp.status}`);
    }
    const errs = body?.errors?.length ? body.errors : [{ message: `the server answered ${resp.status}`, extensions: {} }];
    if (errs.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) signOut('rejected');
    throw new ApiError(errs, null);
  }
  const disposition = resp.headers.get('Content-Disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `${list}.csv`;
  return { name, text: await resp.text() };
}

/** Saves `blob` as a download called `name`. */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/**
 * Downloads `list` (`incidents`, `corrective-actions`, …) for each of `filters` as one CSV
 * file, saying how it goes in `status` (a live region) and keeping `button` from being
 * pressed twice. Throws the server's refusal (an ApiError) for the page to show.
 */
export async function downloadCsv({ list, filters, orderBy = null, button, status, what }) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  status.textContent = `Preparing the ${what} file…`;
  try {
    const parts = [];
    let name = `${list}.csv`;
    for (const [i, f] of filters.entries()) {
      const csv = await fetchCsv(list, f, orderBy);
      if (i === 0) {
        name = csv.name;
        parts.push(csv.text);
      } else {
        // Every file starts with the same header row; keep the first only.
        const end = csv.text.indexOf('\r\n');
        parts.push(end < 0 ? '' : csv.text.slice(end + 2));
      }
    }
    // Excel opens a CSV as UTF-8 only with the byte order mark.
    save(new Blob(['\uFEFF', ...parts], { type: 'text/csv;charset=utf-8' }), name);
    status.textContent = `Downloaded ${name}.`;
  } catch (err) {
    status.textContent = `The ${what} file could not be made.`;
    throw err;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** The bytes at `path` (a path on this server), fetched with the signed-in token. */
async function fetchFile(path) {
  const t = token();
  if (!t) throw new NetworkError('not signed in');
  let resp;
  try {
    resp = await fetch(path, {
      headers: { Authorization: `Bearer ${t}` },
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new NetworkError(e.message);
  }
  if (!resp.ok) {
    const errs = refusal(resp.status, await resp.text().catch(() => ''));
    if (errs.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) signOut('rejected');
    throw new ApiError(errs, null);
  }
  return resp.blob();
}

/**
 * Downloads the evidence file at `url` (an attachment's `downloadUrl`) and saves it as
 * `name`, saying how it goes in `status` (a live region) and keeping `button` from being
 * pressed twice. Throws the server's refusal (an ApiError) for the page to show.
 */
export async function downloadFile({ url, name, button, status }) {
  // Only this server: the token must never go anywhere else.
  const target = new URL(url, window.location.origin);
  if (target.origin !== window.location.origin) throw new NetworkError('the file is not on this server');
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  status.textContent = `Downloading ${name}…`;
  try {
    save(await fetchFile(target.pathname + target.search), name);
    status.textContent = `Downloaded ${name}.`;
  } catch (err) {
    status.textContent = `${name} could not be downloaded.`;
    throw err;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
