// The pages' one way to the server: POST /graphql with the signed-in person's token.
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
