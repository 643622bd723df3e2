// The SPARQL editor: YASGUI (from npm, served by this server) set up for our endpoint.
// - our prefixes are declared in the first query and offered by Ctrl-Space after PREFIX;
// - classes, properties and gpd: entities complete from this graph (never from LOV);
// - the competency questions are named examples (the select above the editor);
// - results show as a table or as the raw response;
// - an error (a syntax error, the time limit, a refused query) is said in plain words
//   in #editor-status, and a query that outlives the server's time limit is abandoned.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("editor-config").textContent);
  const status = document.getElementById("editor-status");
  const host = document.getElementById("yasgui");
  if (typeof Yasgui === "undefined") {
    status.className = "error-box";
    status.textContent = "The editor library is not installed (run make install); the endpoint still answers at " + config.endpoint + ".";
    return;
  }
  const endpoint = new URL(config.endpoint, window.location.href).href;
  const Yasqe = Yasgui.Yasqe;

  // ------------------------------------------------------------ completion from our graph
  async function select(query) {
    const body = new URLSearchParams({ query });
    const response = await fetch(endpoint, {
      method: "POST",
      body,
      headers: { Accept: "application/sparql-results+json" },
    });
    if (!response.ok) return [];
    const json = await response.json();
    const name = json.head.vars[0];
    return json.results.bindings.map((b) => b[name] && b[name].value).filter(Boolean);
  }
  const prologue = Object.entries(config.prefixes)
    .map(([p, iri]) => `PREFIX ${p}: <${iri}>`)
    .join("\n");
  const vocabulary = {
    classes: () =>
      select(`${prologue}
SELECT DISTINCT ?c WHERE {
  { ?c a owl:Class } UNION { ?c a rdfs:Class } UNION { [] a ?c }
  FILTER(isIRI(?c))
} LIMIT 5000`),
    properties: () =>
      select(`${prologue}
SELECT DISTINCT ?p WHERE {
  { ?p a owl:ObjectProperty } UNION { ?p a owl:DatatypeProperty }
  UNION { ?p a owl:AnnotationProperty } UNION { ?p a rdf:Property }
  FILTER(isIRI(?p))
} LIMIT 5000`).then((found) => [
        ...new Set([
          ...found,
          ...["type", "label", "comment", "subClassOf", "altLabel", "prefLabel", "wasDerivedFrom", "hasSource", "hasSelector", "exact"].flatMap(
            (local) => {
              const ns = { type: "rdf", label: "rdfs", comment: "rdfs", subClassOf: "rdfs", altLabel: "skos", prefLabel: "skos", wasDerivedFrom: "prov", hasSource: "oa", hasSelector: "oa", exact: "oa" }[local];
              return config.prefixes[ns] ? [config.prefixes[ns] + local] : [];
            },
          ),
        ]),
      ]),
    entities: () =>
      select(`${prologue}
SELECT DISTINCT ?e WHERE {
  ?e rdfs:label ?l .
  FILTER(isIRI(?e) && STRSTARTS(STR(?e), STR(gpd:)) && !CONTAINS(STR(?e), "/.well-known/"))
} LIMIT 20000`),
  };

  Yasqe.forkAutocompleter(
    "prefixes",
    {
      name: "geokg-prefixes",
      get: () => Object.entries(config.prefixes).map(([p, iri]) => `${p}: <${iri}>`).sort(),
      persistenceId: null,
    },
    false,
  );
  Yasqe.forkAutocompleter(
    "class",
    { name: "geokg-class", bulk: true, autoShow: false, get: vocabulary.classes, persistenceId: null },
    false,
  );
  Yasqe.forkAutocompleter(
    "property",
    { name: "geokg-property", bulk: true, autoShow: false, get: vocabulary.properties, persistenceId: null },
    false,
  );
  Yasqe.forkAutocompleter(
    "class",
    {
      name: "geokg-entity",
      bulk: true,
      autoShow: false,
      get: vocabulary.entities,
      persistenceId: null,
      isValidCompletionPosition: (yasqe) => {
        const token = yasqe.getCompleteToken();
        return /^gpd:/.test(token.string) || token.string.startsWith("<" + config.prefixes.gpd);
      },
    },
    false,
  );
  Yasqe.defaults.autocompleters = ["geokg-prefixes", "variables", "geokg-entity", "geokg-class", "geokg-property"];

  // ------------------------------------------------------------ the editor
  const yasgui = new Yasgui(host, {
    requestConfig: {
      endpoint,
      method: "POST",
      acceptHeaderSelect: "application/sparql-results+json,*/*;q=0.9",
      acceptHeaderGraph: "text/turtle,*/*;q=0.9",
    },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: { getData: () => [{ endpoint }], keys: [] },
    persistenceId: "geokg-yasgui",
    populateFromUrl: true,
    autofocus: true,
    tabName: "Query",
    yasqe: { value: config.defaultQuery },
    yasr: { pluginOrder: ["table", "response"], defaultPlugin: "table" },
  });
  window.geokgYasgui = yasgui;

  // ------------------------------------------------------------ plain-words status
  const say = (kind, text) => {
    status.className = kind === "error" ? "error-box" : kind === "ok" ? "ok-box" : "";
    status.setAttribute("role", kind === "error" ? "alert" : "status");
    status.dataset.state = kind;
    status.textContent = text;
  };

  function explain(error, limit) {
    if (error && (error.name === "AbortError" || /abort/i.test(String(error.message)))) {
      return `The query was stopped: no answer within ${limit} s. Narrow it (a LIMIT, fewer OPTIONALs, a more specific pattern) and run it again.`;
    }
    if (error instanceof TypeError) return "The server could not be reached. Is it running?";
    const text = error && error.message ? error.message : String(error);
    try {
      const problem = JSON.parse(text);
      const kind = {
        "query-timeout": "The query took too long",
        "malformed-request": "Syntax error",
        "server-busy": "The server is busy",
      }[String(problem.type || "").split("/").pop()];
      const title = kind || problem.title || "The query failed";
      return `${title}${problem.status ? ` (HTTP ${problem.status})` : ""}: ${problem.detail || ""}`.trim();
    } catch {
      return `The query failed: ${text}`;
    }
  }

  function summary(response, duration) {
    const seconds = (duration / 1000).toFixed(2);
    const type = (response.headers && response.headers.get("content-type")) || "";
    if (type.includes("json")) {
      try {
        const json = JSON.parse(response.content);
        if (typeof json.boolean === "boolean") return `Answer: ${json.boolean} (${seconds} s)`;
        const n = json.results.bindings.length;
        return `${n} result${n === 1 ? "" : "s"} in ${seconds} s`;
      } catch {
        /* fall through */
      }
    }
    return `Done in ${seconds} s`;
  }

  const watched = new WeakSet();
  const limit = Math.ceil(config.timeoutSeconds);
  function watch(yasqe) {
    if (watched.has(yasqe)) return;
    watched.add(yasqe);
    let timer = 0;
    yasqe.on("query", (_instance, _request, abort) => {
      say("running", "Running…");
      clearTimeout(timer);
      // The server stops a query at its time limit; a little later the editor gives up too.
      timer = setTimeout(() => abort && abort.abort(), (limit + 5) * 1000);
    });
    yasqe.on("queryResponse", (_instance, response, duration) => {
      clearTimeout(timer);
      if (response instanceof Error || (response && response.ok === false)) {
        say("error", explain(response, limit));
      } else {
        say("ok", summary(response, duration));
      }
    });
    yasqe.on("queryAbort", () => {
      clearTimeout(timer);
      say("", "Query cancelled.");
    });
  }
  yasgui.on("queryBefore", (_instance, tab) => watch(tab.getYasqe()));
  // Syntax errors are flagged in the gutter as you type; before running, say so plainly.
  yasgui.on("queryBefore", (_instance, tab) => {
    const yasqe = tab.getYasqe();
    if (yasqe.queryValid === false) say("error", "Syntax error: the editor marks the line with a cross; the server's message follows.");
  });

  // ------------------------------------------------------------ links stay on this server
  // Result IRIs under the public base (config.publicBase) open here, as the
  // server answers for them itself.
  host.addEventListener("click", (event) => {
    const a = event.target.closest && event.target.closest("a[href]");
    if (!a || !config.publicBase || !a.href.startsWith(config.publicBase)) return;
    event.preventDefault();
    window.location.href = "/" + a.href.slice(config.publicBase.length);
  });

  // ------------------------------------------------------------ named examples
  const examples = new Map(config.examples.map((ex) => [ex.id, ex]));
  document.getElementById("examples").addEventListener("change", (event) => {
    const ex = examples.get(event.target.value);
    if (!ex) return;
    const name = `${ex.id} ${ex.title}`.slice(0, 40);
    const tab = yasgui.addTab(true, { name, yasqe: { value: ex.query } }, { avoidDuplicateTabs: true });
    tab.setQuery(ex.query);
    say("", `Example ${ex.id}: ${ex.title} Press the run button (or Ctrl-Enter) to run it.`);
    event.target.value = "";
  });
})();
