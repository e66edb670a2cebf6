// The pages' one way to the server: POST /graphql with the signed-in person's token, and
// POST /attachments for an evidence file's bytes.
import { token, signOut } from './session.js';

/** The server answered with errors (each with `extensions.code`, and `field` for bad input). */
export class ApiError extends Error {
  constructor(errors, data) {
    super(errors.map((e) => e.message).join('; '));
    this.errors = errors;
    this.data = data;
    this.code = errors[0]?.extensions?.code;
  }
  /** The errors that name a field: [{field, reason, limit, message}]. */
  fieldErrors() {
    return this.errors
      .filter((e) => e.extensions?.code === 'BAD_USER_INPUT' && e.extensions?.field)
      .map((e) => ({ field: e.extensions.field, reason: e.extensions.reason, limit: e.extensions.limit, message: e.message }));
  }
}

/** The request did not reach the server, or its answer did not come back. */
export class NetworkError extends Error {}

/**
 * Runs a GraphQL operation and returns its data. `auth: false` sends no token (the
 * follow-up page: an anonymous reporter's look-up records nothing about who asked);
 * `with` sends that token instead of the signed-in one (the sign-in page, checking it).
 */
export async function gql(query, variables = {}, { auth = true, with: candidate } = {}) {
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/graphql-response+json, application/json;q=0.9',
  };
  if (candidate) {
    headers.Authorization = `Bearer ${candidate}`;
  } else if (auth) {
    const t = token();
    if (!t) throw new NetworkError('not signed in');
    headers.Authorization = `Bearer ${t}`;
  }
  let resp;
  try {
    resp = await fetch('/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new NetworkError(e.message);
  }
  let body;
  try {
    body = await resp.json();
  } catch (e) {
    throw new NetworkError(`the server answered ${resp.status}`);
  }
  if (body.errors?.length) {
    if (auth && !candidate && body.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
      signOut('rejected');
    }
    throw new ApiError(body.errors, body.data);
  }
  return body.data;
}

/**
 * The errors of a refusal that is not GraphQL's own answer (an upload, a download): the
 * server's `{"errors": [...]}` when it sent one, else words for its status.
 */
export function refusal(status, text) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: a proxy's page, or nothing
  }
  if (body?.errors?.length) return body.errors;
  const words = {
    401: ['Your sign-in is no longer valid. Sign in again.', 'UNAUTHENTICATED'],
    403: ['You may not do that.', 'FORBIDDEN'],
    404: ['It was not found, or it is not yours to see.', 'NOT_FOUND'],
    413: ['The file is too large.', 'BAD_USER_INPUT'],
  }[status] ?? [`The server answered ${status}.`, 'INTERNAL'];
  return [{ message: words[0], extensions: { code: words[1] } }];
}

/**
 * Sends one file's bytes (the raw body, not a form) to `POST /attachments`, calling
 * `onProgress(sent, total)` as they go, and resolves with the server's attachment
 * `{ id fileName contentType size status }`. XMLHttpRequest rather than fetch: only it
 * reports upload progress. Aborted through `signal`; a refusal rejects with an ApiError.
 */
export function upload(file, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const t = token();
    if (!t) {
      reject(new NetworkError('not signed in'));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/attachments?fileName=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('Authorization', `Bearer ${t}`);
    xhr.setRequestHeader('Accept', 'application/json');
    // The server decides the type from the bytes; the browser's guess (from the name) is
    // sent only as a hint.
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress?.(e.loaded, e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          const body = JSON.parse(xhr.responseText);
          if (body?.attachment?.id) {
            onProgress?.(file.size, file.size);
            resolve(body.attachment);
            return;
          }
        } catch {
          // fall through: an answer that is not an attachment
        }
        reject(new NetworkError(`the server answered ${xhr.status} without the file`));
        return;
      }
      const errs = refusal(xhr.status, xhr.responseText);
      if (errs.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) signOut('rejected');
      reject(new ApiError(errs, null));
    });
    xhr.addEventListener('error', () => reject(new NetworkError('the upload did not reach the server')));
    xhr.addEventListener('abort', () => reject(new DOMException('the upload was stopped', 'AbortError')));
    if (signal) {
      if (signal.aborted) {
        reject(new DOMException('the upload was stopped', 'AbortError'));
        return;
      }
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(file);
  });
}
