// An anonymous reporter reads their report's progress with the follow-up code. No token is
// sent, even when someone is signed in: the look-up records nothing about who asked.
import { start } from '../lib/layout.js';
import { gql, ApiError } from '../lib/api.js';
import { $, h, replace, summaryList, tag, focus } from '../lib/dom.js';
import { statusLabel, statusTone as tone } from '../lib/labels.js';
import { describe as wordsFor, problem } from '../lib/validate.js';
import { when } from '../lib/format.js';
import * as errors from '../lib/errors.js';

const QUERY = `query FollowUp($code: String!) {
  followUp(code: $code) { reference status reportedAt closedAt learningSummary feedbackToReporter }
}`;

const WORDS = {
  'code|BLANK': 'Enter your follow-up code',
  'code|UNKNOWN': 'No report has this code. Check each character and try again',
};
const describe = (p) => wordsFor(p, WORDS);

start({ auth: 'optional' });
const form = $('#follow-up-form');
const summary = $('#error-summary');

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const code = $('#code').value.trim();
  const fail = (reason, message) => errors.show(summary, form, [problem('code', reason, message)], { describe });
  $('#result').hidden = true;
  if (!code) return fail('BLANK', 'code must not be blank');
  let found;
  try {
    found = (await gql(QUERY, { code }, { auth: false })).followUp;
  } catch (err) {
    if (err instanceof ApiError && err.fieldErrors().length) return errors.show(summary, form, err.fieldErrors(), { describe });
    return errors.show(summary, form, errors.problemsOf(err));
  }
  if (!found) return fail('UNKNOWN', 'no report has this code');
  errors.clear(summary, form);
  $('#result-reference').textContent = found.reference;
  replace($('#result-body'),
    summaryList([
      ['Status', tag(statusLabel(found.status), tone(found.status))],
      ['Reported', when(found.reportedAt)],
      ['Closed', found.closedAt ? when(found.closedAt) : null],
    ]),
    h('h3', {}, 'What was learned'),
    h('p', { class: 'body prewrap' }, found.learningSummary ?? 'Nothing yet. It will be here once the review has found it.'),
    h('h3', {}, 'Feedback to you'),
    h('p', { class: 'body prewrap' }, found.feedbackToReporter ?? 'No feedback yet. Come back later: the code does not expire.'));
  $('#result').hidden = false;
  focus($('#result-title'));
});
