// The search box of the work queue: `search` over everything the viewer may see, each
// result a link with its matched words marked (built as elements: nothing found is ever
// parsed as markup).
import { gql } from './api.js';
import { $, h, replace } from './dom.js';
import { statusLabel } from './labels.js';
import * as errors from './errors.js';
import { describe } from './validate.js';

const SEARCH = `query($q: String!, $after: String) {
  search(query: $q, first: 20, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      kind
      highlights { field fragments { text matched } }
      record {
        __typename
        ... on Incident { reference title status department { name } }
        ... on CorrectiveAction { id title status department { name } }
        ... on Audit { id title status department { name } }
        ... on ImprovementProject { id title status department { name } }
      }
    } }
  }
}`;

const KINDS = {
  INCIDENT: 'Incident',
  CORRECTIVE_ACTION: 'Corrective action',
  AUDIT: 'Audit',
  IMPROVEMENT_PROJECT: 'Improvement project',
};

const FIELDS = {
  reference: 'Reference',
  title: 'Title',
  description: 'Description',
  location: 'Location',
  category: 'Category',
  equipment: 'Equipment',
  learningSummary: 'Learning',
  feedbackToReporter: 'Feedback',
  standard: 'Standard',
  aim: 'Aim',
};

const WORDS = {
  'query|BLANK': () => 'Enter a word to search for',
  'query|TOO_LONG': (p) => `Search for at most ${p.limit ?? 'a few'} ${p.message.includes('words') ? 'words' : 'characters'}`,
};

function link(hit) {
  const r = hit.record;
  const text = r.__typename === 'Incident' ? `${r.reference}: ${r.title}` : r.title;
  switch (r.__typename) {
    case 'Incident': return h('a', { href: `/incidents/${encodeURIComponent(r.reference)}` }, text);
    case 'CorrectiveAction': return h('a', { href: `/actions/${encodeURIComponent(r.id)}` }, text);
    case 'Audit': return h('a', { href: `/audits/${encodeURIComponent(r.id)}` }, text);
    default: return h('span', {}, text);
  }
}

function highlight(hl) {
  return h('p', { class: 'body search-result__match' },
    h('span', { class: 'search-result__field' }, `${FIELDS[hl.field] ?? hl.field}: `),
    hl.fragments.map((f) => (f.matched ? h('mark', {}, f.text) : f.text)));
}

function result(hit) {
  const r = hit.record;
  return h('li', { class: 'search-result' },
    h('h3', { class: 'search-result__title' }, link(hit)),
    h('p', { class: 'hint' }, [KINDS[hit.kind] ?? hit.kind, r.department?.name, r.status && statusLabel(r.status)].filter(Boolean).join(' · ')),
    hit.highlights.filter((hl) => hl.field !== 'title' && hl.field !== 'reference').map(highlight));
}

/** Wires the search form `#search-form` to its results `#search-results`. */
export function mountSearch(summary) {
  const form = $('#search-form');
  const status = $('#search-status');
  const results = $('#search-results');
  if (!form) return;
  let query = '';
  const run = async (after) => {
    status.textContent = 'Searching…';
    try {
      const data = await gql(SEARCH, { q: query, after });
      const s = data.search;
      const list = after ? results.querySelector('ol') : h('ol', { class: 'search-results' });
      list.append(...s.edges.map((e) => result(e.node)));
      const shown = list.children.length;
      const more = s.pageInfo.hasNextPage
        ? h('button', { class: 'button button--secondary', type: 'button', onclick: () => run(s.pageInfo.endCursor) }, 'Show more results')
        : null;
      if (!after) replace(results, list);
      results.querySelector('.search-more')?.remove();
      if (more) results.append(h('div', { class: 'search-more' }, more));
      status.textContent = s.totalCount === 0
        ? `Nothing you may see matches “${query}”.`
        : `${s.totalCount} ${s.totalCount === 1 ? 'result' : 'results'} for “${query}”${shown < s.totalCount ? `, ${shown} shown` : ''}.`;
    } catch (err) {
      status.textContent = '';
      errors.show(summary, form, errors.problemsOf(err), { describe: (p) => describe(p, WORDS) });
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    errors.clear(summary, form);
    query = form.elements.query.value;
    replace(results);
    run(null);
  });
}
