// GraphiQL against this server's /graphql. When the intranet pages are signed in (in this
// tab), queries carry that token; otherwise add an Authorization header in the Headers
// pane. Tabs, queries and variables are kept in sessionStorage, not localStorage: they may
// hold patient details, and ward computers are shared.
//
// The schema comes from /schema.graphql rather than from an introspection query: GraphiQL's
// introspection query nests deeper than the server's depth limit allows.
(function () {
  'use strict';
  var token = null;
  try {
    token = window.sessionStorage.getItem('candour.token');
  } catch (e) {
    token = null;
  }
  var fetcher = window.GraphiQL.createFetcher({
    url: '/graphql',
    headers: token ? { Authorization: 'Bearer ' + token } : {},
  });
  var defaultQuery = '# Candour GraphQL API. Sign in to the pages in this tab, or send\n' +
    '# {"Authorization": "Bearer <token>"} in Headers below.\n\n' +
    '{\n  me { subject name roles departmentCodes }\n  departments { code name }\n}\n';

  function render(schema) {
    var root = window.ReactDOM.createRoot(document.getElementById('graphiql'));
    root.render(window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      schema: schema,
      storage: window.sessionStorage,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: true,
      defaultQuery: defaultQuery,
    }));
  }

  fetch('/schema.graphql', { credentials: 'omit' })
    .then(function (r) {
      if (!r.ok) throw new Error('schema ' + r.status);
      return r.text();
    })
    .then(function (sdl) {
      render(window.GraphiQL.GraphQL.buildSchema(sdl));
    })
    .catch(function () {
      render(undefined);
    });
})();
