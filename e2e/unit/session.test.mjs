import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenFromFragment, decodeClaims, expired } from '../../api/web/assets/js/lib/session.js';

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims) => `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}.c2ln`;

test('tokens are read from #token= and from an identity provider’s #access_token=', () => {
  assert.equal(tokenFromFragment('#token=a.b.c'), 'a.b.c');
  assert.equal(tokenFromFragment('#access_token=a.b.c&token_type=Bearer&expires_in=3600'), 'a.b.c');
  assert.equal(tokenFromFragment('#main'), null);
  assert.equal(tokenFromFragment(''), null);
  assert.equal(tokenFromFragment('#token='), null);
});

test('claims are decoded from base64url, names in any script', () => {
  const c = decodeClaims(jwt({ sub: 'sam', name: 'Siân Ó Súilleabháin', exp: 2000000000, roles: ['handler'] }));
  assert.equal(c.name, 'Siân Ó Súilleabháin');
  assert.deepEqual(c.roles, ['handler']);
  for (const bad of ['', 'a.b', 'a..c', 'not a token', `x.${Buffer.from('[1]').toString('base64url')}.y`, null]) {
    assert.equal(decodeClaims(bad), null, String(bad));
  }
});

test('a token without exp, or past it, has expired', () => {
  assert.equal(expired({ exp: 100 }, 99), false);
  assert.equal(expired({ exp: 100 }, 100), true);
  assert.equal(expired({}, 0), true);
  assert.equal(expired(null), true);
});
