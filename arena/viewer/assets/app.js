/* Autonomy Arena report viewer: plain JavaScript, no dependencies, nothing from the network.
 *
 * Data arrives as script files that call ARENA.* (arena/viewer/data.py writes them), because a
 * page opened from file:// may not fetch() local files. Every text that comes from a run (agent
 * and tool output, names, check details) enters the page as a text node, never as HTML.
 */
(function () {
  "use strict";

  const A = (window.ARENA = window.ARENA || {});
  const db = { site: null, chunks: [], episodes: new Map(), summary: undefined, comparison: undefined };
  A.site = (d) => { db.site = d; };
  A.rows = (i, rows) => { db.chunks[i] = rows; };
  A.episode = (id, record) => { db.episodes.set(id, record); };
  A.summary = (s) => { db.summary = s; };
  A.comparison = (c) => { db.comparison = c; };
  A.plots = A.plots || {}; // plot name -> function (summary, element): the summary's plots plug in here
  A.db = db;
  A.timing = {}; // milliseconds since navigation: ready (first view shown), rows (every table row loaded)

  const LIVE = location.protocol === "http:" || location.protocol === "https:";
  const EPISODE_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}\/\d{1,9}$/;
  const FOLD_LINES = 12;
  const FOLD_CHARS = 1500;
  const POLL_MS = 2500;

  // ------------------------------------------------------------------ helpers

  function load(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = LIVE ? src + "?t=" + Date.now() : src;
      s.onload = () => { s.remove(); resolve(); };
      s.onerror = () => { s.remove(); reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }

  function h(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid instanceof Node ? kid : String(kid));
    }
    return e;
  }

  const fmt = {
    int: (x) => (x === null || x === undefined ? "—" : Number(x).toLocaleString("en-US")),
    pct: (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%"),
    num: (x, d = 2) => (x === null || x === undefined ? "—" : Number(x).toFixed(d)),
    secs: (x) => (x === null || x === undefined ? "—" : x < 10 ? x.toFixed(2) + "s" : x.toFixed(1) + "s"),
    money: (x) => (x === null || x === undefined ? "unknown" : x < 1 ? "$" + x.toFixed(4) : "$" + x.toFixed(2)),
    when: (t) => {
      if (!t) return "—";
      const d = new Date(t * 1000), p = (n) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
    },
    rate: (x) => (x ? String(x) : "0"),
  };

  function outcomeOf(status, outcome) {
    return outcome || status || "pending";
  }

  function badge(text, kind) {
    return h("span", { class: "badge " + (kind || text) }, text);
  }

  function episodeHref(id) {
    return "episode.html#" + encodeURI(id);
  }

  function compareHref(a, b) {
    return "compare.html#" + new URLSearchParams({ a: a, b: b }).toString();
  }

  /* Long text folded: the first lines show, the rest opens on demand (filled in only then). */
  function fold(text, cls) {
    text = text === null || text === undefined ? "" : String(text);
    const lines = text.replace(/\n$/, "").split("\n");
    if (lines.length <= FOLD_LINES && text.length <= FOLD_CHARS) return h("pre", { class: cls || "" }, text);
    const preview = lines.slice(0, FOLD_LINES).join("\n").slice(0, FOLD_CHARS);
    const full = h("pre", { class: cls || "" });
    const box = h("details", { class: "fold" },
      h("summary", {}, h("pre", { class: (cls || "") + " preview" }, preview),
        h("span", { class: "more" }, `show all ${fmt.int(lines.length)} lines (${fmt.int(text.length)} characters)`)),
      full);
    box.addEventListener("toggle", () => { if (box.open && !full.textContent) full.textContent = text; });
    return box;
  }

  /* Replace an element's content; nested lists and empty parts (null, false) are fine. */
  function put(target, ...kids) {
    target.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  }

  function fail(main, title, detail) {
    main.replaceChildren(h("div", { class: "notice error" }, h("strong", {}, title), h("p", {}, detail)));
  }

  /* A table that sorts on a click of its headers. columns: {key, label, num, fmt, title, cell}. */
  function sortableTable(columns, rows, opts) {
    opts = opts || {};
    let sortKey = null;
    let dir = 1;
    const tbody = h("tbody");
    const heads = columns.map((c) =>
      h("th", { class: c.num ? "num" : "", title: c.title || null, scope: "col" },
        h("button", { type: "button", class: "sort", onclick: () => sortBy(c.key) }, c.label)));
    const table = h("table", { class: "grid sortable" + (opts.cls ? " " + opts.cls : ""), id: opts.id || null },
      h("thead", {}, h("tr", {}, heads)), tbody);

    function value(row, c) {
      const v = row[c.key];
      return v === null || v === undefined ? null : v;
    }
    function sortBy(key) {
      dir = sortKey === key ? -dir : 1;
      sortKey = key;
      heads.forEach((th, i) => th.setAttribute("aria-sort", columns[i].key === key ? (dir > 0 ? "ascending" : "descending") : "none"));
      render();
    }
    function render() {
      let shown = rows.slice();
      if (sortKey !== null) {
        const c = columns.find((x) => x.key === sortKey);
        shown.sort((a, b) => compare(value(a, c), value(b, c)) * dir);
      }
      tbody.replaceChildren(...shown.map((row) => h("tr", {}, columns.map((c) =>
        h("td", { class: c.num ? "num" : "" }, c.cell ? c.cell(row) : c.fmt ? c.fmt(row[c.key]) : row[c.key] ?? "—")))));
    }
    render();
    return table;
  }

  function compare(a, b) {
    if (a === b) return 0;
    if (a === null) return 1; // empty cells sort last either way round
    if (b === null) return -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), "en", { numeric: true });
  }

  // ------------------------------------------------------------------ the frame

  function header(page) {
    const site = db.site;
    const runs = site.runs.map((r) => r.id).join(", ");
    const link = (href, label, name) => h("a", { href: href, class: page === name ? "active" : "" }, label);
    document.getElementById("top").replaceChildren(h("nav", {},
      h("span", { class: "brand" }, "Autonomy Arena"),
      link("index.html", "Overview", "overview"),
      link("episodes.html", "Episodes", "episodes"),
      site.comparison && site.comparison.state === "present" ? h("a", { href: "index.html#comparison" }, "Comparison") : null,
      h("span", { class: "runs", title: runs }, site.runs.length === 1 ? "run " + runs : site.runs.length + " runs"),
      LIVE && site.live ? h("span", { class: "live", title: "served from the store: new episodes appear as they finish" }, "live") : null,
      h("span", { class: "built" }, (site.live ? "read " : "built ") + fmt.when(site.built))));
  }

  /* In `arena view`, the site data is re-read from the store: call back when its version (or what
   * `key` reads of it) changes. */
  function poll(onChange, key) {
    if (!(LIVE && db.site.live)) return;
    key = key || ((site) => site.version);
    const version = key(db.site);
    setTimeout(async () => {
      try {
        await load("data/site.js");
      } catch (e) {
        setTimeout(() => poll(onChange, key), POLL_MS); // the server may be restarting
        return;
      }
      if (key(db.site) !== version) await onChange();
      poll(onChange, key);
    }, POLL_MS);
  }

  async function boot() {
    const main = document.getElementById("main");
    const page = document.body.dataset.page;
    try {
      await load("data/site.js");
    } catch (e) {
      fail(main, "This report has no data.", "data/site.js is missing: build the report with `arena report RUN --html DIR`.");
      return;
    }
    header(page);
    await PAGES[page](main);
    A.timing.ready = performance.now();
    document.body.dataset.ready = "1";
  }

  // ------------------------------------------------------------------ overview

  const GROUP_COLUMNS = [
    { key: "episodes", label: "episodes", num: true, fmt: fmt.int },
    { key: "success", label: "ok", num: true, fmt: fmt.int, title: "episodes whose checks all passed" },
    { key: "fail", label: "fail", num: true, fmt: fmt.int },
    { key: "error", label: "err", num: true, fmt: fmt.int, title: "infrastructure errors: left out of the rate" },
    { key: "pending", label: "not done", num: true, fmt: fmt.int },
    { key: "success_rate", label: "success", num: true, fmt: fmt.pct, title: "ok / (ok + fail); intervals come with the run summary" },
    { key: "mean_score", label: "mean score", num: true, fmt: (x) => fmt.num(x) },
    { key: "mean_steps", label: "mean steps", num: true, fmt: (x) => fmt.num(x, 1) },
    { key: "mean_seconds", label: "mean time", num: true, fmt: fmt.secs },
    { key: "faults_injected", label: "faults met", num: true, fmt: fmt.int, title: "injected tool faults, total" },
    { key: "tokens", label: "tokens", num: true, fmt: fmt.int, title: "total" },
    { key: "cost_usd", label: "cost", num: true, fmt: (x) => (x === null ? "—" : fmt.money(x)), title: "total; — when no model was priced" },
  ];

  function groupTable(groups, byFamily, id) {
    const multi = db.site.runs.length > 1;
    const filters = (g) => {
      const p = new URLSearchParams({ agent: g.agent, level: g.level });
      if (g.family) p.set("family", g.family);
      if (multi) p.set("run", g.run);
      return "episodes.html#" + p.toString();
    };
    const columns = [
      multi ? { key: "run", label: "run" } : null,
      { key: "agent", label: "agent" },
      { key: "level", label: "level" },
      byFamily ? { key: "family", label: "family" } : null,
      ...GROUP_COLUMNS,
      { key: "link", label: "", cell: (g) => h("a", { href: filters(g) }, "episodes →") },
    ].filter(Boolean);
    return sortableTable(columns, groups, { id: id });
  }

  function runsTable() {
    return sortableTable([
      { key: "id", label: "run" },
      { key: "status", label: "status" },
      { key: "created", label: "created", fmt: fmt.when },
      { key: "done", label: "done", num: true, cell: (r) => `${fmt.int(r.done)} / ${fmt.int(r.episodes)}` },
      { key: "agents", label: "agents", cell: (r) => r.agents.join(", ") },
      { key: "families", label: "families", cell: (r) => r.families.join(", ") },
      { key: "levels", label: "levels", cell: (r) => r.levels.join(", ") },
      { key: "trials", label: "trials", num: true },
      { key: "sandbox", label: "sandbox" },
    ], db.site.runs, { id: "runs" });
  }

  /* Where the run summary's plots go (assets/plots.js draws them); each names the summary field it reads. */
  const PLOTS = [
    ["success_by_level", "Success by autonomy level, per agent, with intervals", "by_level"],
    ["pass_hat_k", "pass^k against k, per agent", "by_level"],
    ["cost_frontier", "Cost against success, with the frontier", "frontier"],
    ["time_horizon", "Success against estimated human minutes, with the fitted horizon", "horizons"],
    ["reflection", "Reflection: recovery, blind repeats, verification, per agent", "by_agent"],
    ["faults", "Success with and without injected faults", "by_level"],
  ];

  const SUMMARY_NOTES = {
    building: "The server is computing the run summary; it shows here when it is ready.",
    absent: "No run summary beside this site (summary.json). ",
  };

  function plotSlots(summary) {
    return h("div", { class: "plots", id: "plots" }, PLOTS.map(([name, title, field]) => {
      const body = h("div", { class: "plot-body" });
      const slot = h("figure", { class: "plot-slot", "data-plot": name, "data-needs": field },
        h("figcaption", {}, title), body);
      if (summary === undefined) {
        body.append(h("p", { class: "empty" }, "waiting for a summary"));
      } else if (summary[field] === undefined) {
        body.append(h("p", { class: "empty" }, `summary.${field} is not in this summary`));
      } else if (!complete(summary)) {
        body.append(h("p", { class: "empty" }, `drawn from summary.${field}, but the summary lacks ${missing(summary).join(", ")}`));
      } else if (typeof A.plots[name] === "function") {
        try {
          A.plots[name](summary, body);
        } catch (e) {
          console.error("plot " + name + " failed", e);
          body.replaceChildren(h("p", { class: "empty" }, "this plot could not be drawn: " + e.message));
        }
      } else {
        body.append(h("p", { class: "empty" }, `drawn from summary.${field}`));
      }
      return slot;
    }));
  }

  /* A summary of the right shape: what the tables read (a hand-made summary.json may hold less). */
  const NEEDED = ["runs", "options", "agents", "levels", "families", "by_level", "by_family", "by_agent",
    "certifications", "horizons", "frontier"];
  const missing = (summary) => NEEDED.filter((k) => summary[k] === undefined);
  const complete = (summary) => Boolean(summary) && !missing(summary).length;

  function summarySections() {
    const state = db.site.summary || { state: "absent" };
    const summary = db.summary;
    const present = state.state === "present" && summary !== undefined;
    const parts = [];
    if (!present) {
      parts.push(h("p", { class: "notice", id: "summary-state" },
        state.state === "invalid" ? state.detail + ". " : SUMMARY_NOTES[state.state] || SUMMARY_NOTES.absent,
        "The tables below are plain counts and rates from the stored results; confidence intervals, pass^k, " +
        "reliability, reflection, the certified level and the plots come from the run summary."));
    }
    if (present && !complete(summary)) {
      parts.push(h("p", { class: "notice", id: "summary-state" }, `This summary lacks ${missing(summary).join(", ")}: ` +
        "it is not one `arena report` wrote, so its figures cannot be shown (it is below as data)."));
    }
    if (present && complete(summary)) {
      parts.push(h("section", { id: "headline" }, h("h2", {}, "Success and certified level"), A.figures.headline(summary)));
    }
    parts.push(h("section", { id: "summary", class: "summary", "data-state": present ? "present" : state.state },
      h("h2", {}, "Plots"), state.stale ? h("p", { class: "hint" }, "the store changed since: the summary is being brought up to date") : null,
      present && typeof A.plotLegend === "function" && complete(summary) ? A.plotLegend(summary) : null,
      plotSlots(present ? summary : undefined)));
    if (present && complete(summary)) {
      parts.push(h("section", { id: "figures" }, h("h2", {}, "Figures"),
        h("p", { class: "hint" }, "The tables of `arena report`, from the same summary. Click a header to sort; a rate " +
          "shows its 95% interval over tasks, * marks one resting on few tasks."),
        A.figures.details(summary)));
    }
    return { present: present && complete(summary), parts: parts };
  }

  function rawSummary() {
    if (db.summary === undefined) return null;
    const pre = h("pre", { class: "json" });
    const raw = h("details", { class: "raw", id: "raw-summary" }, h("summary", {}, "the summary as data"), pre);
    raw.addEventListener("toggle", () => { if (raw.open && !pre.textContent) pre.textContent = JSON.stringify(db.summary, null, 1); });
    return raw;
  }

  async function loadFigures(previous) {
    const site = db.site;
    const want = (name) => site[name] && site[name].state === "present" &&
      (db[name] === undefined || !previous || (previous[name] || {}).version !== site[name].version);
    for (const name of ["summary", "comparison"]) {
      if (!want(name)) continue;
      try { await load(`data/${name}.js`); } catch (e) { console.error(e.message); }
    }
  }

  async function pageOverview(main) {
    await loadFigures(null);
    const render = () => {
      header("overview");
      const o = db.site.overview;
      const summary = summarySections();
      put(main,
        h("h1", {}, "Overview"),
        summary.present ? h("p", { class: "run-title", id: "run-title" }, A.figures.title(db.summary)) : null,
        h("h2", {}, "Runs"), runsTable(),
        summary.parts,
        summary.present ? null : [
          h("h2", {}, "By agent and level"),
          h("p", { class: "hint" }, "Every family together. Click a header to sort; the link opens those episodes."),
          groupTable(o.by_level, false, "by-level"),
          h("h2", {}, "By agent, level and family"),
          groupTable(o.by_family, true, "by-family")],
        A.figures.comparison(db.site.comparison, db.site.comparison && db.site.comparison.state === "present" ? db.comparison : undefined),
        rawSummary());
      if (location.hash === "#comparison") document.getElementById("comparison").scrollIntoView();
    };
    render();
    const key = (site) => [site.version, (site.summary || {}).version, (site.comparison || {}).version, (site.summary || {}).state].join("/");
    let previous = JSON.parse(JSON.stringify({ summary: db.site.summary, comparison: db.site.comparison }));
    poll(async () => {
      await loadFigures(previous);
      previous = JSON.parse(JSON.stringify({ summary: db.site.summary, comparison: db.site.comparison }));
      render();
    }, key);
  }

  // ------------------------------------------------------------------ the episode table

  const FILTERS = ["run", "agent", "family", "template", "level", "outcome", "termination"];
  const PAGE_SIZES = [25, 50, 100, 200];

  async function pageEpisodes(main) {
    const site = db.site;
    const C = {};
    const colIndex = () => site.columns.forEach((c, i) => { C[c] = i; });
    colIndex();
    const state = Object.assign({ q: "", page: "1", size: "50", sort: "", dir: "asc" },
      Object.fromEntries(new URLSearchParams(location.hash.slice(1))));
    const selected = new Set();
    const searchText = new WeakMap();
    let rows = [];
    let view = [];
    let loadedChunks = 0;

    // Controls
    const inputs = {};
    const select = (name, values, label) => {
      const s = h("select", { name: name, "aria-label": label || name },
        h("option", { value: "" }, label || name), values.map((v) => h("option", { value: v }, v)));
      s.value = state[name] || "";
      s.addEventListener("change", () => { state[name] = s.value; state.page = "1"; update(); });
      inputs[name] = s;
      return s;
    };
    const number = (name, label, step) => {
      const i = h("input", { type: "number", name: name, placeholder: label, min: "0", step: step, "aria-label": label });
      i.value = state[name] || "";
      i.addEventListener("input", () => { state[name] = i.value; state.page = "1"; update(); });
      inputs[name] = i;
      return i;
    };
    const search = h("input", { type: "search", name: "q", placeholder: 'search: words or "a phrase" (agent, task, check, error…)', "aria-label": "search" });
    search.value = state.q;
    search.addEventListener("input", () => { state.q = search.value; state.page = "1"; update(); });
    inputs.q = search;
    const facetSelects = FILTERS.filter((f) => f !== "run" || site.runs.length > 1).map((f) => {
      const values = f === "outcome" ? ["success", "fail", "error", "pending", "running"] : site.facets[f] || [];
      return select(f, values, f);
    });
    const faults = select("faults", [], "faults");
    [["none", "no faults injected"], ["injected", "fault rate > 0"], ["met", "met a fault"]].forEach(([v, t]) =>
      faults.append(h("option", { value: v }, t)));
    faults.value = state.faults || "";
    const reset = h("button", { type: "button", onclick: () => {
      for (const k of Object.keys(inputs)) { inputs[k].value = ""; state[k] = ""; }
      state.page = "1"; update();
    } }, "reset");
    const controls = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      search, facetSelects, faults,
      h("span", { class: "range" }, number("cost_min", "cost ≥ $", "any"), number("cost_max", "cost ≤ $", "any")),
      h("span", { class: "range" }, number("time_min", "time ≥ s", "any"), number("time_max", "time ≤ s", "any")),
      reset);

    const status = h("p", { class: "status", id: "table-status", "aria-live": "polite" });
    const compareBtn = h("a", { class: "button disabled", id: "compare-selected", "aria-disabled": "true" }, "compare 2 selected");
    const thead = h("thead");
    const tbody = h("tbody");
    const table = h("table", { class: "grid episodes", id: "episodes", "data-loaded": "none" }, thead, tbody);
    const pager = h("nav", { class: "pager", "aria-label": "pages" });
    main.replaceChildren(h("h1", {}, "Episodes"), controls, h("div", { class: "bar" }, status, compareBtn),
      h("div", { class: "scroll" }, table), pager);

    const cols = () => [
      { key: "sel", label: "", cell: (r) => {
        const id = r[C.id];
        const box = h("input", { type: "checkbox", "aria-label": "select for comparison", "data-id": id });
        box.checked = selected.has(id);
        box.addEventListener("change", () => { box.checked ? selected.add(id) : selected.delete(id); compareState(); });
        return box;
      } },
      { key: "n", label: "#", num: true, cell: (r) => h("a", { href: episodeHref(r[C.id]), class: "ep-link" }, String(r[C.n])) },
      site.runs.length > 1 ? { key: "run", label: "run" } : null,
      { key: "agent", label: "agent" },
      { key: "family", label: "family" },
      { key: "template", label: "template" },
      { key: "level", label: "level" },
      { key: "seed", label: "seed", num: true, cell: (r) => `${r[C.split]}/${r[C.seed]}` },
      { key: "trial", label: "trial", num: true },
      { key: "faults", label: "faults", num: true, title: "fault rate / injected faults met",
        cell: (r) => (r[C.fault_rate] ? `${fmt.rate(r[C.fault_rate])} / ${r[C.faults]}` : "—") },
      { key: "outcome", label: "outcome", cell: (r) => badge(outcomeOf(r[C.status], r[C.outcome])) },
      { key: "termination", label: "ended by" },
      { key: "score", label: "score", num: true, cell: (r) => fmt.num(r[C.score]) },
      { key: "steps", label: "steps", num: true },
      { key: "tokens", label: "tokens", num: true, cell: (r) => (r[C.tokens] ? fmt.int(r[C.tokens]) : "—") },
      { key: "cost", label: "cost", num: true, cell: (r) => (r[C.tokens] ? fmt.money(r[C.cost]) : "—") },
      { key: "seconds", label: "time", num: true, cell: (r) => fmt.secs(r[C.seconds]) },
      { key: "failed", label: "failed checks / error", cell: (r) => {
        const text = r[C.error] || r[C.failed] || "";
        return h("span", { class: "why", title: text }, text.length > 80 ? text.slice(0, 80) + "…" : text);
      } },
    ].filter(Boolean);

    function renderHead() {
      thead.replaceChildren(h("tr", {}, cols().map((c) => {
        if (c.key === "sel") return h("th", {}, "");
        const sortable = C[c.key] !== undefined;
        const th = h("th", { class: c.num ? "num" : "", title: c.title || null, scope: "col",
          "aria-sort": state.sort === c.key ? (state.dir === "desc" ? "descending" : "ascending") : "none" });
        th.append(sortable ? h("button", { type: "button", class: "sort", onclick: () => {
          state.dir = state.sort === c.key && state.dir === "asc" ? "desc" : "asc";
          state.sort = c.key; state.page = "1"; update();
        } }, c.label) : c.label);
        return th;
      })));
    }

    function textOf(r) {
      let t = searchText.get(r);
      if (t === undefined) {
        t = [r[C.key], r[C.run], r[C.agent], r[C.family], r[C.template], r[C.level], r[C.split], "seed " + r[C.seed],
          "#" + r[C.n], outcomeOf(r[C.status], r[C.outcome]), r[C.termination], r[C.failed], r[C.error]]
          .filter((x) => x !== null && x !== undefined).join(" ").toLowerCase();
        searchText.set(r, t);
      }
      return t;
    }

    function predicate() {
      const tests = [];
      for (const f of FILTERS) {
        const want = state[f];
        if (!want) continue;
        if (f === "outcome") tests.push((r) => outcomeOf(r[C.status], r[C.outcome]) === want);
        else tests.push((r) => String(r[C[f]]) === want);
      }
      if (state.faults === "none") tests.push((r) => !r[C.fault_rate]);
      if (state.faults === "injected") tests.push((r) => r[C.fault_rate] > 0);
      if (state.faults === "met") tests.push((r) => r[C.faults] > 0);
      const bound = (name, col, cmp) => {
        if (state[name] === "" || state[name] === undefined) return;
        const x = Number(state[name]);
        if (Number.isNaN(x)) return;
        tests.push((r) => r[C[col]] !== null && cmp(r[C[col]], x));
      };
      bound("cost_min", "cost", (v, x) => v >= x);
      bound("cost_max", "cost", (v, x) => v <= x);
      bound("time_min", "seconds", (v, x) => v >= x);
      bound("time_max", "seconds", (v, x) => v <= x);
      // Every word must appear; "quoted words" must appear together.
      const terms = [...state.q.toLowerCase().matchAll(/"([^"]+)"|(\S+)/g)].map((m) => m[1] || m[2]);
      if (terms.length) tests.push((r) => { const t = textOf(r); return terms.every((w) => t.includes(w)); });
      return (r) => tests.every((t) => t(r));
    }

    function compute() {
      const keep = predicate();
      view = rows.filter(keep);
      if (state.sort && C[state.sort] !== undefined) {
        const i = C[state.sort];
        const d = state.dir === "desc" ? -1 : 1;
        view.sort((a, b) => compare(a[i] ?? null, b[i] ?? null) * d);
      }
    }

    function render() {
      const size = Number(state.size) || 50;
      const pages = Math.max(1, Math.ceil(view.length / size));
      const page = Math.min(Math.max(1, Number(state.page) || 1), pages);
      state.page = String(page);
      const shown = view.slice((page - 1) * size, page * size);
      const columns = cols();
      tbody.replaceChildren(...shown.map((r) => h("tr", { "data-id": r[C.id], class: "o-" + outcomeOf(r[C.status], r[C.outcome]) },
        columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.cell ? c.cell(r) : r[C[c.key]] ?? "—")))));
      if (!shown.length) tbody.append(h("tr", {}, h("td", { colspan: columns.length, class: "empty" },
        rows.length ? "No episode matches these filters." : "No episodes yet.")));
      const total = site.total;
      const loading = loadedChunks < site.chunks.length ? ` · loading ${loadedChunks} of ${site.chunks.length} parts` : "";
      status.textContent = view.length === rows.length && rows.length === total
        ? `${fmt.int(total)} episodes${loading}`
        : `${fmt.int(view.length)} of ${fmt.int(total)} episodes match${loading}`;
      status.dataset.matches = String(view.length);
      const go = (p, label, disabled) => h("button", { type: "button", disabled: disabled || null,
        onclick: () => { state.page = String(p); update(false); } }, label);
      const sizes = h("select", { "aria-label": "episodes per page" }, PAGE_SIZES.map((s) => h("option", { value: String(s) }, s + " per page")));
      sizes.value = String(size);
      sizes.addEventListener("change", () => { state.size = sizes.value; state.page = "1"; update(false); });
      pager.replaceChildren(go(1, "« first", page === 1), go(page - 1, "‹ previous", page === 1),
        h("span", { class: "page", id: "page-of" }, `page ${page} of ${pages}`),
        go(page + 1, "next ›", page === pages), go(pages, "last »", page === pages), sizes);
      const complete = loadedChunks >= site.chunks.length;
      if (complete && A.timing.rows === undefined) A.timing.rows = performance.now();
      table.dataset.loaded = complete ? "complete" : "partial";
    }

    function compareState() {
      const ids = [...selected];
      const ok = ids.length === 2;
      compareBtn.className = "button" + (ok ? "" : " disabled");
      compareBtn.setAttribute("aria-disabled", ok ? "false" : "true");
      if (ok) compareBtn.setAttribute("href", compareHref(ids[0], ids[1]));
      else compareBtn.removeAttribute("href");
      compareBtn.textContent = ok ? "compare the 2 selected" : `select 2 to compare (${ids.length} selected)`;
    }

    function saveHash() {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(state)) {
        if (v && !(k === "page" && v === "1") && !(k === "size" && v === "50") && !(k === "dir" && v === "asc")) p.set(k, v);
      }
      const text = p.toString();
      history.replaceState(null, "", text ? "#" + text : location.pathname);
    }

    function update(recompute = true) {
      if (recompute) compute();
      renderHead();
      render();
      saveHash();
    }

    let pending = false;
    function rowsArrived() {
      rows = [].concat(...db.chunks.slice(0, site.chunks.length).filter(Boolean));
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; update(); });
    }

    async function loadAll() {
      db.chunks = [];
      loadedChunks = 0;
      const first = new Promise((resolve) => {
        site.chunks.forEach((_, i) => {
          const name = "data/rows/" + String(i).padStart(4, "0") + ".js";
          load(name).then(() => { loadedChunks += 1; rowsArrived(); if (i === 0) resolve(); },
            (e) => { console.error(e.message); if (i === 0) resolve(); });
        });
        if (!site.chunks.length) resolve();
      });
      await first;
    }

    compareState();
    update();
    await loadAll();
    rows = [].concat(...db.chunks.filter(Boolean));
    update();
    poll(async function changed() {
      header("episodes");
      Object.assign(site, db.site);
      colIndex();
      await loadAll();
      rowsArrived();
    });
    window.addEventListener("hashchange", () => {
      const fresh = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
      for (const k of Object.keys(inputs)) { state[k] = fresh[k] || ""; inputs[k].value = state[k]; }
      state.page = fresh.page || "1";
      update();
    });
  }

  // ------------------------------------------------------------------ one trajectory

  async function loadEpisode(id) {
    if (!EPISODE_ID.test(id)) throw new Error(`"${id}" is not an episode of this report`);
    db.episodes.delete(id);
    try {
      await load("data/episodes/" + id + ".js");
    } catch (e) {
      throw new Error(`episode ${id} is not in this report`);
    }
    const record = db.episodes.get(id);
    if (!record) throw new Error(`episode ${id} is not in this report`);
    return record;
  }

  function outcomeBanner(r) {
    const result = r.result;
    const outcome = outcomeOf(r.status, result && result.outcome);
    return h("div", { class: "banner o-" + outcome, "data-outcome": outcome },
      badge(outcome), result ? h("span", { class: "term" }, result.termination) : null,
      h("span", { class: "why" }, r.why));
  }

  function facts(r) {
    const k = r.key, t = r.task || {}, res = r.result || {};
    const usage = res.usage || {};
    const items = [
      ["agent", k.agent], ["level", k.level], ["family", k.family], ["template", t.template],
      ["task", r.task_id], ["split / seed", `${k.split} / ${k.seed}`], ["trial", k.trial],
      ["paraphrase", k.paraphrase], ["fault rate", k.faults], ["difficulty", t.difficulty],
      ["human minutes", t.human_minutes], ["attempts", r.attempts], ["steps", res.steps],
      ["tool calls", res.tool_calls], ["tool errors", res.tool_errors], ["score", res.score === undefined ? undefined : fmt.num(res.score)],
      ["tokens", usage.input_tokens || usage.output_tokens ? `${fmt.int(usage.input_tokens)} in, ${fmt.int(usage.output_tokens)} out` : undefined],
      ["cost", usage.input_tokens || usage.output_tokens ? fmt.money(usage.cost_usd) : undefined],
      ["time", res.seconds === undefined ? undefined : fmt.secs(res.seconds)],
    ].filter(([, v]) => v !== undefined && v !== null && v !== "");
    return h("dl", { class: "facts" }, items.map(([name, v]) => h("div", {}, h("dt", {}, name), h("dd", {}, String(v)))));
  }

  function argsView(args) {
    if (typeof args === "string") return fold(args, "args");
    const keys = Object.keys(args || {});
    if (!keys.length) return h("span", { class: "noargs" }, "(no arguments)");
    return h("div", { class: "args" }, keys.map((key) => {
      const v = args[key];
      const text = typeof v === "string" ? v : JSON.stringify(v, null, 1);
      return h("div", { class: "arg" }, h("span", { class: "arg-name" }, key), fold(text, "arg-value"));
    }));
  }

  function usageText(u) {
    if (!u || !(u.input_tokens || u.output_tokens || u.cost_usd)) return null;
    return `${u.model ? u.model + ": " : ""}${fmt.int(u.input_tokens)} in, ${fmt.int(u.output_tokens)} out, ` +
      (u.cost_usd === null || u.cost_usd === undefined ? "cost unknown" : fmt.money(u.cost_usd));
  }

  const EVENTS = { subgoal: "now on subgoal", hand_in_met: "hand-in met", hand_in_rejected: "hand-in rejected",
    help: "help given", takeover: "took over", subgoal_met: "subgoal met" };

  function renderStep(step) {
    const a = step.action || {};
    const results = new Map((step.results || []).map((x) => [x.call_id, x]));
    const supervisor = step.actor === "supervisor";
    const calls = (a.tool_calls || []).map((call) => {
      const res = results.get(call.id);
      results.delete(call.id);
      return h("div", { class: "call" },
        h("div", { class: "call-head" }, h("span", { class: "tool" }, call.name)), argsView(call.arguments),
        res ? resultView(res) : null);
    });
    const orphans = [...results.values()].map(resultView); // results not matched to a call (never expected)
    return h("li", { class: "step" + (supervisor ? " supervisor" : ""), "data-index": step.index },
      h("div", { class: "step-head" },
        h("span", { class: "idx" }, "step " + step.index),
        supervisor ? badge("supervisor", "supervisor") : null,
        h("span", { class: "dim" }, fmt.secs(step.seconds)),
        usageText(a.usage) ? h("span", { class: "dim" }, usageText(a.usage)) : null),
      (step.events || []).map((e) => h("div", { class: "event ev-" + e.kind },
        badge("supervisor: " + (EVENTS[e.kind] || e.kind), "event"), e.subgoal ? h("span", { class: "subgoal" }, e.subgoal) : null,
        e.detail ? h("span", { title: e.detail.length > 240 ? e.detail : null },
          e.detail.length > 240 ? e.detail.slice(0, 240) + "…" : e.detail) : null)),
      a.message ? h("div", { class: "message" }, h("div", { class: "label" }, "message"), fold(a.message)) : null,
      a.parse_error ? h("div", { class: "parse-error" }, "reply could not be read as an action: ", a.parse_error) : null,
      calls, orphans,
      step.note ? h("div", { class: "note" }, h("span", { class: "label" }, "note"), " ", step.note) : null,
      step.sanitized ? h("div", { class: "dim" }, "stored altered: ", step.sanitized) : null);
  }

  function resultView(res) {
    return h("div", { class: "result" + (res.is_error ? " is-error" : "") + (res.fault ? " faulted" : "") },
      h("div", { class: "result-head" }, "→ ",
        res.fault ? badge("injected fault: " + res.fault, "fault") : null,
        res.is_error ? badge("error", "error") : null,
        res.truncated ? badge("truncated", "dim") : null,
        res.effect ? h("span", { class: "dim" }, res.effect) : null,
        h("span", { class: "dim" }, fmt.secs(res.seconds))),
      fold(res.output, "output"));
  }

  function checksTable(result) {
    if (!result) return h("p", { class: "empty" }, "Not graded yet.");
    if (!result.checks.length) return h("p", { class: "empty" }, "No checks were run.");
    return h("table", { class: "grid checks", id: "checks" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "check"), h("th", {}, "kind"), h("th", {}, "detail"))),
      h("tbody", {}, result.checks.map((c) => h("tr", { class: c.passed ? "pass" : "fail" },
        h("td", {}, badge(c.passed ? "pass" : "fail")), h("td", {}, c.name), h("td", {}, c.kind), h("td", {}, fold(c.detail, "detail"))))));
  }

  function partsTable(result) {
    if (!result || !result.parts || !result.parts.length) return null;
    return [h("h2", {}, "Worker job: sub-tasks"), h("table", { class: "grid parts" },
      h("thead", {}, h("tr", {}, ["", "part", "family", "task", "score"].map((x) => h("th", {}, x)))),
      h("tbody", {}, result.parts.map((p) => h("tr", {}, h("td", {}, badge(p.success ? "done" : "not done", p.success ? "success" : "fail")),
        h("td", {}, p.name), h("td", {}, p.family), h("td", {}, p.task_id), h("td", { class: "num" }, fmt.num(p.score))))))];
  }

  function siblingsTable(r) {
    if (!r.siblings.length) return null;
    const many = r.siblings.length > 12;
    return h("details", { class: "siblings", open: !many || null },
      h("summary", {}, h("h2", {}, `The same task elsewhere (${r.siblings.length})`)), sortableTable([
      { key: "run", label: "run" }, { key: "agent", label: "agent" }, { key: "level", label: "level" },
      { key: "trial", label: "trial", num: true }, { key: "paraphrase", label: "paraphrase", num: true },
      { key: "fault_rate", label: "fault rate", num: true },
      { key: "outcome", label: "outcome", cell: (s) => badge(s.outcome) },
      { key: "id", label: "", cell: (s) => [h("a", { href: episodeHref(s.id) }, "open"), " · ",
        h("a", { href: compareHref(r.site_id, s.id), class: "side-by-side" }, "side by side")] },
    ], r.siblings, { id: "siblings" }));
  }

  function neighbours(r) {
    const [slug] = r.site_id.split("/");
    const total = (db.site.runs.find((x) => x.slug === slug) || {}).episodes || 0;
    return h("p", { class: "neighbours" },
      r.number > 0 ? h("a", { href: episodeHref(`${slug}/${r.number - 1}`), class: "prev" }, "‹ episode " + (r.number - 1)) : null, " ",
      h("a", { href: "episodes.html" }, "all episodes"), " ",
      r.number + 1 < total ? h("a", { href: episodeHref(`${slug}/${r.number + 1}`), class: "next" }, "episode " + (r.number + 1) + " ›") : null);
  }

  async function pageEpisode(main) {
    const show = async () => {
      const id = decodeURI(location.hash.slice(1));
      let r;
      try {
        r = await loadEpisode(id);
      } catch (e) {
        fail(main, "No such episode.", e.message + ". Open one from the episode table.");
        return;
      }
      document.title = `Episode ${r.number} · ${r.key.agent} · ${r.key.family} · Arena report`;
      put(main,
        neighbours(r),
        h("h1", {}, `Episode ${r.number}: ${r.key.agent} on ${r.key.family} (${r.key.level})`),
        h("p", { class: "key" }, r.id, db.site.runs.length > 1 ? ` · run ${r.run_id}` : ""),
        outcomeBanner(r), facts(r),
        h("h2", {}, "Instruction"), fold((r.task && r.task.instruction) || "(not stored for this episode)", "instruction"),
        h("h2", {}, `Steps (${r.steps.length})`),
        r.steps.length ? h("ol", { class: "steps", id: "steps" }, r.steps.map(renderStep)) : h("p", { class: "empty" }, "No steps were stored."),
        h("h2", {}, "Checks"), checksTable(r.result), partsTable(r.result),
        siblingsTable(r));
      if (LIVE && db.site.live && r.status !== "done") setTimeout(() => { if (decodeURI(location.hash.slice(1)) === id) show(); }, POLL_MS);
    };
    window.addEventListener("hashchange", () => { show(); window.scrollTo(0, 0); });
    await show();
  }

  // ------------------------------------------------------------------ side by side

  function label(r) {
    const k = r.key;
    return `${k.agent} · ${k.level} · trial ${k.trial}` + (k.paraphrase ? ` · paraphrase ${k.paraphrase}` : "") +
      (k.faults ? ` · faults ${k.faults}` : "") + (db.site.runs.length > 1 ? ` · run ${r.run_id}` : "");
  }

  const ENDED = { success: "succeeded", fail: "failed", error: "ended in an infrastructure error",
    pending: "has not run yet", running: "is still running" };

  function difference(a, b) {
    const oa = outcomeOf(a.status, a.result && a.result.outcome);
    const ob = outcomeOf(b.status, b.result && b.result.outcome);
    if (oa === ob) return `Both ${ENDED[oa] || oa}.`;
    return `A ${ENDED[oa] || oa}; B ${ENDED[ob] || ob}.`;
  }

  function figuresTable(a, b) {
    const ra = a.result || {}, rb = b.result || {};
    const ua = ra.usage || {}, ub = rb.usage || {};
    const rows = [
      ["outcome", outcomeOf(a.status, ra.outcome), outcomeOf(b.status, rb.outcome), null],
      ["ended by", ra.termination, rb.termination, null],
      ["score", ra.score, rb.score, fmt.num],
      ["steps", ra.steps, rb.steps, String],
      ["tool errors", ra.tool_errors, rb.tool_errors, String],
      ["tokens", (ua.input_tokens || 0) + (ua.output_tokens || 0), (ub.input_tokens || 0) + (ub.output_tokens || 0), fmt.int],
      ["cost", ua.cost_usd, ub.cost_usd, fmt.money],
      ["time", ra.seconds, rb.seconds, fmt.secs],
    ];
    return h("table", { class: "grid figures", id: "difference" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "A"), h("th", {}, "B"), h("th", { class: "num" }, "B − A"))),
      h("tbody", {}, rows.map(([name, x, y, f]) => {
        const show = (v) => (v === undefined || v === null ? "—" : f ? f(v) : String(v));
        const delta = typeof x === "number" && typeof y === "number" && f ? (y - x >= 0 ? "+" : "−") + show(Math.abs(y - x)) : "";
        return h("tr", { class: show(x) !== show(y) ? "differs" : "" }, h("th", {}, name), h("td", {}, show(x)), h("td", {}, show(y)), h("td", { class: "num" }, delta));
      })));
  }

  function checksCompared(a, b) {
    const ca = new Map(((a.result || {}).checks || []).map((c) => [c.name, c]));
    const cb = new Map(((b.result || {}).checks || []).map((c) => [c.name, c]));
    const names = [...new Set([...ca.keys(), ...cb.keys()])];
    if (!names.length) return h("p", { class: "empty" }, "No checks on either side.");
    const cell = (c) => (c ? h("td", {}, badge(c.passed ? "pass" : "fail"), " ", h("span", { class: "dim" }, c.detail)) : h("td", {}, "—"));
    return h("table", { class: "grid checks", id: "checks-compared" },
      h("thead", {}, h("tr", {}, h("th", {}, "check"), h("th", {}, "A"), h("th", {}, "B"))),
      h("tbody", {}, names.map((n) => h("tr", { class: (ca.get(n) || {}).passed !== (cb.get(n) || {}).passed ? "differs" : "" },
        h("td", {}, n), cell(ca.get(n)), cell(cb.get(n))))));
  }

  async function pageCompare(main) {
    const show = async () => {
      const p = new URLSearchParams(location.hash.slice(1));
      let a, b;
      try {
        a = await loadEpisode(p.get("a") || "");
        b = await loadEpisode(p.get("b") || "");
      } catch (e) {
        fail(main, "Pick two episodes.", e.message + ". Select two rows in the episode table, or open an episode and follow a 'side by side' link.");
        return;
      }
      const picker = h("select", { "aria-label": "compare A with" },
        h("option", { value: "" }, "compare A with another episode of this task…"),
        a.siblings.map((s) => h("option", { value: s.id }, `${s.agent} · ${s.level} · trial ${s.trial} · ${s.outcome}`)));
      picker.addEventListener("change", () => { if (picker.value) location.hash = new URLSearchParams({ a: a.site_id, b: picker.value }).toString(); });
      const steps = Math.max(a.steps.length, b.steps.length);
      const pairs = [];
      for (let i = 0; i < steps; i++) {
        pairs.push(h("div", { class: "pair", "data-index": i },
          h("ol", { class: "steps side a" }, a.steps[i] ? renderStep(a.steps[i]) : h("li", { class: "step none" }, "(no step here)")),
          h("ol", { class: "steps side b" }, b.steps[i] ? renderStep(b.steps[i]) : h("li", { class: "step none" }, "(no step here)"))));
      }
      const sameTask = a.key.family === b.key.family && a.key.split === b.key.split && a.key.seed === b.key.seed;
      const ia = (a.task || {}).instruction || "", ib = (b.task || {}).instruction || "";
      put(main,
        h("h1", {}, "Side by side"),
        h("p", { class: "diff-line", id: "diff-line" }, difference(a, b)),
        sameTask ? null : h("p", { class: "notice" }, "These two episodes are of different tasks."),
        h("div", { class: "pair heads" },
          h("div", { class: "side-head" }, h("strong", {}, "A "), h("a", { href: episodeHref(a.site_id) }, `episode ${a.number}`), " · ", label(a), outcomeBanner(a)),
          h("div", { class: "side-head" }, h("strong", {}, "B "), h("a", { href: episodeHref(b.site_id) }, `episode ${b.number}`), " · ", label(b), outcomeBanner(b))),
        h("p", {}, h("a", { href: compareHref(b.site_id, a.site_id) }, "swap A and B"), " ", picker),
        figuresTable(a, b),
        h("h2", {}, "Checks"), checksCompared(a, b),
        h("h2", {}, ia === ib ? "Instruction (the same for both)" : "Instructions"),
        ia === ib ? fold(ia, "instruction") : h("div", { class: "pair" }, fold(ia, "instruction"), fold(ib, "instruction")),
        h("h2", {}, `Steps (A ${a.steps.length}, B ${b.steps.length})`),
        h("div", { class: "pairs", id: "pairs" }, pairs));
    };
    window.addEventListener("hashchange", show);
    await show();
  }

  const PAGES = { overview: pageOverview, episodes: pageEpisodes, episode: pageEpisode, compare: pageCompare };
  A.h = h; // for the summary's plot renderers
  A.fmt = fmt;
  document.addEventListener("DOMContentLoaded", () => {
    boot().catch((e) => {
      console.error(e);
      fail(document.getElementById("main"), "The report could not be shown.", String(e && e.message ? e.message : e));
    });
  });
})();
