/* The run summary's figures on the overview: the tables of `arena report` (arena/report/terminal.py),
 * with the same rows, columns and cell texts, sortable; and the paired comparison of the agents
 * (arena/report/comparison.py). Numbers are formatted as the terminal formats them (Python's
 * rounding, half to even), so the two reports read alike to the last digit.
 */
(function () {
  "use strict";

  const A = (window.ARENA = window.ARENA || {});
  const DASH = "—";
  const FEW = "*";
  const LEVELS = ["copilot", "agent", "worker"];
  const WHY_LABELS = { success: "success", wrong: "submitted, wrong", taken_over: "taken over", step_limit: "step limit",
    timeout: "timeout", budget: "budget", context: "context full", crash: "agent crash", error: "error",
    cancelled: "cancelled", pending: "not run" };
  const MAX_K_COLUMNS = 4;
  const MAX_ERRORS_SHOWN = 5;

  // ------------------------------------------------------------------ numbers as Python formats them

  /* x to d decimals, as Python's f"{x:.{d}f}": the exact binary value rounded, exact ties to even. */
  function fixed(x, d) {
    const neg = x < 0 || Object.is(x, -0);
    const m = Math.abs(x);
    const exact = m.toFixed(Math.min(100, d + 25));
    const dot = exact.indexOf(".");
    const tail = exact.slice(dot + 1 + d);
    let out = m.toFixed(d); // ties go up here
    if (/^50*$/.test(tail)) {
      const kept = exact.slice(0, d ? dot + 1 + d : dot);
      const last = Number(kept[kept.length - 1]);
      if (last % 2 === 0) out = kept;
    }
    return (neg ? "-" : "") + out;
  }

  function commas(text) {
    const [whole, part] = text.split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + digits + (part !== undefined ? "." + part : "");
  }

  const none = (x) => x === null || x === undefined || Number.isNaN(x);
  const signed = (x, d) => (x < 0 || Object.is(x, -0) ? "" : "+") + fixed(x, d);

  const F = {
    fixed: fixed,
    pct: (x, digits = 0) => (none(x) ? DASH : fixed(100 * x, digits) + "%"),
    number: (x, digits = 1, unit = "") => (none(x) ? DASH : commas(fixed(x, digits)) + unit),
    money: (x) => (none(x) ? "unknown" : x === 0 ? "$0" : x < 1 ? "$" + fixed(x, 4) : "$" + commas(fixed(x, 2))),
    seconds: (x) => (none(x) ? DASH : x < 120 ? fixed(x, 1) + "s" : x < 7200 ? fixed(x / 60, 1) + "m" : fixed(x / 3600, 1) + "h"),
    minutes: (x) => {
      if (none(x)) return DASH;
      if (x < 1) return fixed(x * 60, 0) + "s";
      if (x < 120) return (x < 10 ? fixed(x, 1) : fixed(x, 0)) + "m";
      return fixed(x / 60, 1) + "h";
    },
    tokens: (x) => (none(x) ? DASH : x >= 10000000 ? fixed(x / 1e6, 0) + "M" : x >= 100000 ? fixed(x / 1000, 0) + "k" : commas(fixed(x, 0))),
    family: (f) => (f === null || f === undefined ? "all" : f.includes(":") ? f.slice(f.lastIndexOf(":") + 1) : f),
    name: (t) => (t === null || t === undefined ? "all" : String(t)),
  };

  /* A cell: its text, the value it sorts by, a class. */
  function cell(text, value, cls) {
    return { text: text, value: value === undefined ? null : value, cls: cls || "" };
  }

  /* `93% [81-98]*`, coloured by whether the lower bound clears `good` (as the terminal does). */
  function rate(r, opts) {
    opts = Object.assign({ interval: true, good: 0.8 }, opts || {});
    if (!r || none(r.value)) return cell(DASH, null);
    let cls = "";
    if (opts.good !== null && !none(r.low)) cls = r.low >= opts.good ? "r-good" : r.value >= 0.5 ? "r-mid" : "r-bad";
    let text = F.pct(r.value);
    if (opts.interval && !none(r.low) && !none(r.high)) text += ` [${fixed(100 * r.low, 0)}-${fixed(100 * r.high, 0)}]`;
    if (r.few) text += FEW;
    return cell(text, r.value, cls + (r.few ? " few" : ""));
  }

  const txt = (t) => cell(t, null);
  const num = (text, value) => cell(text, none(value) ? null : value);

  // ------------------------------------------------------------------ the summary's shape

  function group(s, agent, level, family) {
    const pool = family !== undefined && family !== null ? s.by_family : level !== undefined && level !== null ? s.by_level : s.by_agent;
    return pool.find((g) => g.agent === agent && (g.level ?? null) === (level ?? null) && (g.family ?? null) === (family ?? null)) || null;
  }

  function hat(g, k) {
    return (g.reliability.pass_hat_k || {})[String(k)] || null;
  }

  function fewCaption(s, text) {
    return `${text}; ${FEW} fewer than ${s.options.min_tasks} tasks`;
  }

  function trialsOf(s) {
    return Math.max(0, ...s.by_level.map((g) => g.reliability.trials));
  }

  function kOf(s) {
    const trials = trialsOf(s);
    return trials ? Math.min(s.options.gates.k, trials) : 0;
  }

  function title(s) {
    const runs = s.runs;
    const priv = [...new Set(runs.map((r) => r.private_split).filter(Boolean))].sort();
    const mark = priv.length ? `; private split, salt ${priv.join(", ")}` : "";
    if (runs.length === 1) {
      const r = runs[0];
      return `Run ${r.id} (${r.status}, ${r.done}/${r.episodes} episodes done${mark})`;
    }
    const done = runs.reduce((a, r) => a + r.done, 0), all = runs.reduce((a, r) => a + r.episodes, 0);
    return `Runs ${runs.map((r) => r.id).join(", ")} (${done}/${all} episodes done${mark})`;
  }

  /* Where a group's episodes are in the episode table (labels are run:agent with several runs). */
  function episodesLink(s, g) {
    const p = new URLSearchParams();
    let agent = g.agent;
    if (s.runs.length > 1) {
      const run = s.runs.map((r) => r.id).filter((id) => agent.startsWith(id + ":")).sort((a, b) => b.length - a.length)[0];
      if (run !== undefined) { p.set("run", run); agent = agent.slice(run.length + 1); }
    }
    p.set("agent", agent);
    if (g.level) p.set("level", g.level);
    if (g.family) p.set("family", g.family);
    return "episodes.html#" + p.toString();
  }

  // ------------------------------------------------------------------ the tables of the terminal report

  /* Per agent and level (the terminal's rows), or per agent, level and family (`perFamily`). */
  function levelPool(s, perFamily) {
    return perFamily ? s.by_family : s.by_level;
  }

  function keyColumns(s, perFamily) {
    const cols = [{ label: "agent", get: (g) => txt(F.name(g.agent)) }, { label: "level", get: (g) => txt(F.name(g.level)) }];
    if (perFamily) cols.push({ label: "family", get: (g) => txt(F.family(g.family)) });
    return cols;
  }

  function levelsTable(s) {
    return {
      id: "t-levels", title: "Success by level", caption: fewCaption(s, "success over scored episodes, 95% CI over tasks"),
      columns: [{ label: "agent", get: (a) => txt(F.name(a)) },
        ...s.levels.map((lv) => ({ label: lv, num: false, get: (a) => { const g = group(s, a, lv); return g ? rate(g.success) : txt(DASH); } }))],
      rows: s.agents,
    };
  }

  function certificationTable(s) {
    const several = s.families.length > 1;
    const g = s.options.gates;
    const pct = F.pct;
    return {
      id: "t-certified", title: "Certified autonomy level",
      caption: `gates on 95% lower bounds: copilot self-done >= ${pct(g.copilot.self_done)}; agent success >= ` +
        `${pct(g.agent.success)}, pass^${g.k} >= ${pct(g.agent.pass_hat_k)}; worker job success >= ` +
        `${pct(g.worker.success)}, pass^${g.k} >= ${pct(g.worker.pass_hat_k)}, fault robustness >= ` +
        `${pct(g.worker.fault_robustness)}`,
      columns: [
        { label: "agent", get: (c) => txt(F.name(c.agent)) },
        several ? { label: "family", get: (c) => txt(F.family(c.family)) } : null,
        { label: "certified", get: (c) => cell(c.level || "none", c.level ? LEVELS.indexOf(c.level) : -1, c.level ? "certified" : "uncertified") },
        { label: "what blocks the next level", get: (c) => {
          const b = c.blocking;
          const text = c.blocking_text || (c.level === LEVELS[LEVELS.length - 1] ? "the top level" : "");
          return cell(text, b && !none(b.low) ? b.low - b.threshold : null, "wrap");
        } },
      ].filter(Boolean),
      rows: s.certifications.filter((c) => c.family === null || several),
    };
  }

  function outcomesTable(s) {
    const k = kOf(s);
    const severalLevels = s.levels.length > 1, several = s.families.length > 1;
    return {
      id: "t-outcomes",
      title: "Outcomes" + (several ? "" : ` on ${s.families.length ? F.family(s.families[0]) : ""}`),
      caption: fewCaption(s, "ok/fail/err: episodes (totals; errors are the arena's failures, never the agent's); success with " +
        "its 95% CI over tasks; score: mean share of goal checks passed"),
      columns: [
        { label: "agent", get: (g) => txt(F.name(g.agent)) },
        severalLevels ? { label: "level", get: (g) => txt(F.name(g.level)) } : null,
        several ? { label: "family", get: (g) => txt(F.family(g.family)) } : null,
        { label: "ok/fail/err", num: true, get: (g) => { const o = g.outcomes;
          return cell(`${o.successes}/${o.fails}/${o.errors}` + (o.pending ? ` +${o.pending}?` : ""), o.successes); } },
        { label: "success", get: (g) => rate(g.success) },
        k > 1 ? { label: `pass^${k}`, num: true, get: (g) => rate(hat(g, k), { interval: false, good: null }) } : null,
        { label: "score", num: true, get: (g) => num(F.pct(g.mean_score), g.mean_score) },
        { label: "", extra: true, get: (g) => ({ link: episodesLink(s, g), text: "episodes →", value: null }) },
      ].filter(Boolean),
      rows: s.by_family,
    };
  }

  function levelRows(s, level) {
    const several = s.families.length > 1;
    const rows = [];
    for (const agent of s.agents) {
      const overall = group(s, agent, level);
      if (!overall) continue;
      rows.push(overall);
      if (several) rows.push(...s.by_family.filter((g) => g.agent === agent && g.level === level));
    }
    return rows;
  }

  function copilotTable(s) {
    if (!s.levels.includes("copilot")) return null;
    const several = s.families.length > 1;
    return {
      id: "t-copilot", title: "Copilot: subgoals with a supervisor",
      caption: "self-done: subgoals met by the agent, with no help and no takeover (95% CI); rejected hand-ins, help " +
        "and takeovers: means per episode",
      columns: [
        { label: "agent", get: (g) => txt(F.name(g.agent)) },
        several ? { label: "family", get: (g) => txt(F.family(g.family)) } : null,
        { label: "self-done", get: (g) => rate(g.copilot.self_done) },
        { label: "rejected", num: true, get: (g) => num(F.number(g.copilot.rejected_per_episode), g.copilot.rejected_per_episode) },
        { label: "help", num: true, get: (g) => num(F.number(g.copilot.interventions_per_episode), g.copilot.interventions_per_episode) },
        { label: "taken over", num: true, get: (g) => num(F.number(g.copilot.takeovers_per_episode), g.copilot.takeovers_per_episode) },
      ].filter(Boolean),
      rows: levelRows(s, "copilot").filter((g) => g.copilot && g.copilot.episodes),
    };
  }

  function workerTable(s) {
    if (!s.levels.includes("worker")) return null;
    const several = s.families.length > 1;
    return {
      id: "t-worker", title: "Worker: whole jobs alone",
      caption: "job success, parts done: with their 95% CI; faults: injected faults met (total); recovered: transient " +
        "faults after which the tool worked",
      columns: [
        { label: "agent", get: (g) => txt(F.name(g.agent)) },
        several ? { label: "family", get: (g) => txt(F.family(g.family)) } : null,
        { label: "job success", get: (g) => rate(g.worker.job_success) },
        { label: "parts done", get: (g) => rate(g.worker.parts_done, { good: null }) },
        { label: "faults", num: true, get: (g) => num(String(g.worker.faults_met), g.worker.faults_met) },
        { label: "recovered", get: (g) => rate(g.worker.faults_recovered, { interval: false, good: null }) },
      ].filter(Boolean),
      rows: levelRows(s, "worker").filter((g) => g.worker && g.worker.jobs),
    };
  }

  function passKTable(s, perFamily) {
    const trials = trialsOf(s);
    if (trials < 2) return null;
    const ks = [];
    for (let k = 1; k <= Math.min(trials, MAX_K_COLUMNS); k++) ks.push(k);
    if (!ks.includes(trials)) ks[ks.length - 1] = trials;
    const last = ks[ks.length - 1];
    return {
      id: "t-pass-k", title: "Reliability: pass^k (all k trials succeed)",
      caption: "the chance that k trials of a task all succeed (unbiased, mean over tasks)",
      columns: [...keyColumns(s, perFamily),
        ...ks.map((k) => ({ label: `pass^${k}`, num: true, get: (g) => { const r = hat(g, k); return r ? num(F.pct(r.value), r.value) : txt(DASH); } })),
        { label: `pass^${last} [CI]`, get: (g) => rate(hat(g, last), { good: 0.6 }) }],
      rows: levelPool(s, perFamily),
    };
  }

  function robustnessTable(s, perFamily) {
    const rows = levelPool(s, perFamily).filter((g) => g.reliability.consistency !== null || g.reliability.faults || g.reliability.paraphrase);
    if (!rows.length) return null;
    return {
      id: "t-robustness", title: "Consistency and robustness",
      caption: "consist.: mean (2p-1)^2 over tasks; flips: tasks whose trials disagree; faults ratio: success with faults / " +
        "without; wording: tasks whose outcome depends on it",
      columns: [...keyColumns(s, perFamily),
        { label: "consist.", num: true, get: (g) => num(F.number(g.reliability.consistency, 2), g.reliability.consistency) },
        { label: "flips", get: (g) => rate(g.reliability.flips, { good: null }) },
        { label: "faults ratio", get: (g) => (g.reliability.faults ? rate(g.reliability.faults.ratio, { good: 0.9 }) : txt(DASH)) },
        { label: "wording", get: (g) => (g.reliability.paraphrase ? rate(g.reliability.paraphrase.sensitive, { good: null }) : txt(DASH)) }],
      rows: rows,
    };
  }

  function reflectionTable(s, perFamily) {
    const rows = levelPool(s, perFamily).filter((g) => g.reflection.episodes);
    if (!rows.length) return null;
    return {
      id: "t-reflection", title: "Reflection: its own errors",
      caption: "errors, blind (the failed call repeated unchanged): totals; recovered: errors whose goal was reached " +
        "later; fixed next: the next call was a different one",
      columns: [...keyColumns(s, perFamily),
        { label: "errors", num: true, get: (g) => num(String(g.reflection.own_errors), g.reflection.own_errors) },
        { label: "recovered", get: (g) => rate(g.reflection.recovery, { good: null }) },
        { label: "fixed next", get: (g) => rate(g.reflection.corrected_at_once, { interval: false, good: null }) },
        { label: "blind", num: true, get: (g) => num(String(g.reflection.blind_repeats), g.reflection.blind_repeats) }],
      rows: rows,
    };
  }

  function faultsTable(s, perFamily) {
    const rows = levelPool(s, perFamily).filter((g) => g.reflection.faults);
    if (!rows.length) return null;
    return {
      id: "t-faults", title: "Reflection: injected faults",
      caption: "faults, retries: totals; retried: faults followed by the same call again (right after a transient fault); " +
        "tool worked later: transient faults after which the tool succeeded",
      columns: [...keyColumns(s, perFamily),
        { label: "faults", num: true, get: (g) => num(String(g.reflection.faults), g.reflection.faults) },
        { label: "retries", num: true, get: (g) => num(String(g.reflection.good_retries), g.reflection.good_retries) },
        { label: "retried", get: (g) => rate(g.reflection.fault_retry, { interval: false, good: null }) },
        { label: "tool worked later", get: (g) => rate(g.reflection.faults_recovered, { interval: false, good: null }) }],
      rows: rows,
    };
  }

  function verificationTable(s, perFamily) {
    const rows = levelPool(s, perFamily).filter((g) => g.reflection.episodes);
    if (!rows.length) return null;
    return {
      id: "t-verification", title: "Reflection: checking its work",
      caption: "verified: looked at its work after the last change, before submitting; stuck: episodes with a loop; " +
        "reflect: calls (total)",
      columns: [...keyColumns(s, perFamily),
        { label: "verified", get: (g) => rate(g.reflection.verified, { good: null }) },
        { label: "stuck", get: (g) => rate(g.reflection.looped, { interval: false, good: null }) },
        { label: "reflect", num: true, get: (g) => num(String(g.reflection.reflects), g.reflection.reflects) },
        { label: "changed course", get: (g) => rate(g.reflection.reflect_changed, { interval: false, good: null }) }],
      rows: rows,
    };
  }

  function perSuccess(cost, status) {
    if (status === "ok") return num(F.money(cost), cost);
    return txt({ "no success": "no success", unknown: "unknown", "no model": DASH }[status]);
  }

  function costTable(s, perFamily) {
    const anyModel = s.by_level.some((g) => g.cost.used_model);
    return {
      id: "t-cost", title: "Cost and speed",
      caption: "steps, time: means per episode; tokens, cost: totals; per success: the total over the successes",
      columns: [...keyColumns(s, perFamily),
        { label: "steps", num: true, get: (g) => num(F.number(g.cost.mean_steps), g.cost.mean_steps) },
        { label: "time", num: true, get: (g) => num(F.seconds(g.cost.mean_seconds), g.cost.mean_seconds) },
        ...(anyModel ? [
          { label: "tokens", num: true, get: (g) => { const c = g.cost, t = c.input_tokens + c.output_tokens; return c.used_model ? num(F.tokens(t), t) : txt(DASH); } },
          { label: "cost", num: true, get: (g) => (g.cost.used_model ? num(F.money(g.cost.cost_usd), g.cost.cost_usd) : txt(DASH)) },
          { label: "$/success", num: true, get: (g) => perSuccess(g.cost.cost_per_success, g.cost.per_success_status) },
        ] : []),
        { label: "time/succ.", num: true, get: (g) => (g.outcomes.successes ? num(F.seconds(g.cost.seconds_per_success), g.cost.seconds_per_success) : txt(DASH)) }],
      rows: levelPool(s, perFamily),
    };
  }

  function frontierTable(s) {
    const points = s.frontier;
    if (new Set(points.map((p) => p.agent)).size < 2) return null;
    return {
      id: "t-frontier", title: "Cost against success",
      caption: "an agent is dominated when another is as successful for less, or more successful for as much",
      columns: [
        { label: "level", get: (p) => txt(F.name(p.level)) },
        { label: "agent", get: (p) => txt(F.name(p.agent)) },
        { label: "success", get: (p) => num(F.pct(p.success), p.success) },
        { label: "per episode", num: true, get: (p) => num(p.axis === "cost" ? F.money(p.cost) : `${F.tokens(p.cost)} tok`, p.cost) },
        { label: "dominated by", get: (p) => cell(p.dominated ? p.dominated_by.join(", ") : "on the frontier", p.dominated ? 1 : 0, p.dominated ? "dominated" : "frontier") },
      ],
      rows: points,
    };
  }

  function horizonTable(s) {
    if (!s.horizons.length) return null;
    const short = (h) => ({ all_success: `> ${F.minutes(h.max_minutes)} (all done)`, all_fail: `< ${F.minutes(h.min_minutes)} (none done)`,
      too_few: "too few tasks", no_decline: "no decline" }[h.status]);
    return {
      id: "t-horizon", title: "Time horizon (METR)",
      caption: "the task length, in human minutes, done half (80%) of the time: a logistic fit of success on log2 minutes, " +
        "with a bootstrap over families, tasks and trials",
      columns: [
        { label: "agent", get: (h) => txt(F.name(h.agent)) },
        { label: "level", get: (h) => txt(F.name(h.level)) },
        { label: "50% [CI]", get: (h) => {
          if (h.status !== "ok") return cell(short(h), h.status === "all_success" ? Infinity : h.status === "all_fail" ? 0 : null);
          const low = h.h50_low !== null ? F.minutes(h.h50_low) : "0";
          const high = h.h50_high !== null ? F.minutes(h.h50_high) : "∞";
          return cell(`${F.minutes(h.h50)} [${low}-${high}]` + (h.extrapolated ? " extrap." : ""), h.h50);
        } },
        { label: "80%", get: (h) => (h.status === "ok" ? num(F.minutes(h.h80), h.h80) : txt(DASH)) },
        { label: "tasks", num: true, get: (h) => num(String(h.tasks), h.tasks) },
      ],
      rows: s.horizons,
    };
  }

  function whyTable(s, perFamily) {
    const pool = levelPool(s, perFamily);
    const kinds = Object.keys(WHY_LABELS).filter((k) => k !== "success" && k !== "pending" && s.by_level.some((g) => g.outcomes.why[k]));
    if (!kinds.length) return null;
    return {
      id: "t-why", title: "Why episodes failed", caption: "episodes (totals) by how they ended",
      columns: [...keyColumns(s, perFamily),
        ...kinds.map((k) => ({ label: WHY_LABELS[k], num: true, get: (g) => num(String(g.outcomes.why[k] || 0), g.outcomes.why[k] || 0) }))],
      rows: pool,
    };
  }

  function checksTable(s) {
    const rows = s.by_level.flatMap((g) => g.failed_checks.slice(0, 3).map((c) => ({ g: g, c: c })));
    if (!rows.length) return null;
    return {
      id: "t-checks", title: "Checks failing most often",
      caption: "failed: scored episodes in which the check failed, of those in which it ran",
      columns: [
        { label: "agent", get: (r) => txt(F.name(r.g.agent)) },
        { label: "level", get: (r) => txt(F.name(r.g.level)) },
        { label: "family", get: (r) => txt(F.family(r.c.family)) },
        { label: "check", get: (r) => txt(F.name(r.c.name)) },
        { label: "failed", num: true, get: (r) => num(`${r.c.failed}/${r.c.ran}`, r.c.ran ? r.c.failed / r.c.ran : null) },
      ],
      rows: rows,
    };
  }

  function breakdownTables(s) {
    return ["template", "difficulty"].map((dim) => {
      const groups = (s.breakdowns || []).filter((g) => g[dim] !== null && g[dim] !== undefined);
      if (!groups.length) return null;
      return {
        id: "t-by-" + dim, title: `By ${dim}`, caption: "ok/fail/err: totals; score: mean over scored episodes",
        columns: [
          { label: "agent", get: (g) => txt(F.name(g.agent)) },
          { label: "level", get: (g) => txt(F.name(g.level)) },
          { label: "family", get: (g) => txt(F.family(g.family)) },
          { label: dim, get: (g) => cell(String(g[dim]), g[dim]) },
          { label: "ok/fail/err", num: true, get: (g) => cell(`${g.outcomes.successes}/${g.outcomes.fails}/${g.outcomes.errors}`, g.outcomes.successes) },
          { label: "success [CI]", get: (g) => rate(g.success) },
          { label: "score", num: true, get: (g) => num(F.pct(g.mean_score), g.mean_score) },
        ],
        rows: groups,
      };
    }).filter(Boolean);
  }

  // ------------------------------------------------------------------ a figure table in the page

  function compareValues(a, b) {
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), "en", { numeric: true });
  }

  /* A table of a spec: headers sort (numbers by value, text by text); a second click reverses. */
  function render(spec) {
    const h = A.h;
    const rows = spec.rows.map((r) => spec.columns.map((c) => c.get(r)));
    let sortAt = null, dir = 1;
    const tbody = h("tbody");
    const heads = spec.columns.map((c, i) => h("th", { class: c.num ? "num" : "", scope: "col" },
      c.label ? h("button", { type: "button", class: "sort", onclick: () => sortBy(i) }, c.label) : ""));
    const table = h("table", { class: "grid figures", id: spec.id, "data-title": spec.title },
      h("thead", {}, h("tr", {}, heads)), tbody);
    const sortKey = (x) => (x.value !== null && x.value !== undefined ? x.value : x.text === DASH ? null : x.text);
    function sortBy(i) {
      dir = sortAt === i ? -dir : 1;
      sortAt = i;
      heads.forEach((th, j) => th.setAttribute("aria-sort", j === i ? (dir > 0 ? "ascending" : "descending") : "none"));
      draw();
    }
    function draw() {
      const order = rows.map((_, i) => i);
      if (sortAt !== null) order.sort((a, b) => compareValues(sortKey(rows[a][sortAt]), sortKey(rows[b][sortAt])) * dir || a - b);
      tbody.replaceChildren(...order.map((i) => h("tr", {}, rows[i].map((x, j) => {
        const c = spec.columns[j];
        const td = h("td", { class: [c.num ? "num" : "", x.cls].join(" ").trim() || null,
          "data-value": typeof x.value === "number" && Number.isFinite(x.value) ? String(x.value) : null },
          x.link ? h("a", { href: x.link }, x.text) : x.node || x.text);
        return td;
      }))));
    }
    draw();
    if (!rows.length) tbody.append(h("tr", {}, h("td", { colspan: spec.columns.length, class: "empty" }, "nothing to show")));
    return h("div", { class: "figure-table" }, h("h3", {}, spec.title), h("div", { class: "scroll" }, table),
      spec.caption ? h("p", { class: "caption" }, spec.caption) : null);
  }

  function errorsList(s) {
    if (!s.errors || !s.errors.length) return null;
    const h = A.h;
    const items = s.errors.slice(0, MAX_ERRORS_SHOWN).map((e) => h("li", {}, h("span", { class: "badge error" }, "error"), " ", `${e.episode}: ${e.error}`));
    if (s.error_count > MAX_ERRORS_SHOWN) items.push(h("li", { class: "dim" }, `… and ${s.error_count - MAX_ERRORS_SHOWN} more error episodes`));
    return h("div", { class: "figure-table", id: "t-errors" }, h("h3", {}, "Error episodes (the arena's failures, not the agent's)"), h("ul", { class: "errors" }, items));
  }

  let perFamily = false; // the reader's choice survives a live re-render

  /* The headline (success by level, the certified level) and every other table of the report. */
  function headline(s) {
    return [levelsTable(s), certificationTable(s)].map(render);
  }

  function details(s) {
    const h = A.h;
    const box = h("div", { class: "figure-tables" });
    const draw = () => {
      const specs = [
        outcomesTable(s), copilotTable(s), workerTable(s), passKTable(s, perFamily), robustnessTable(s, perFamily),
        reflectionTable(s, perFamily), faultsTable(s, perFamily), verificationTable(s, perFamily), costTable(s, perFamily),
        frontierTable(s), horizonTable(s), whyTable(s, perFamily), checksTable(s), ...breakdownTables(s),
      ].filter(Boolean);
      box.replaceChildren(...specs.map(render), errorsList(s) || "");
    };
    const toggle = h("input", { type: "checkbox", id: "per-family" });
    toggle.checked = perFamily;
    toggle.addEventListener("change", () => { perFamily = toggle.checked; draw(); });
    draw();
    const several = s.families.length > 1;
    return [
      several ? h("label", { class: "toggle" }, toggle, " one row per family too (reliability, reflection, cost, why episodes failed)") : null,
      box,
    ];
  }

  // ------------------------------------------------------------------ the paired comparison

  const RATES = ["success", "score"];
  const isRate = (m) => RATES.includes(m) || m.startsWith("pass^");
  const inCents = (r) => r.metric === "cost" && Math.max(Math.abs(r.a || 0), Math.abs(r.b || 0)) < 1;

  const CF = {
    value: (r, x) => {
      if (none(x)) return DASH;
      if (isRate(r.metric)) return fixed(100 * x, 0) + "%";
      if (r.metric === "cost") return inCents(r) ? fixed(100 * x, 2) + "¢" : F.money(x);
      if (r.metric === "seconds") return fixed(x, 1) + "s";
      return F.number(x);
    },
    diff: (r) => {
      if (none(r.diff)) return DASH;
      const low = r.low ?? 0, high = r.high ?? 0;
      if (isRate(r.metric)) return `${signed(100 * r.diff, 0)} [${signed(100 * low, 0)},${signed(100 * high, 0)}]`;
      if (inCents(r)) return `${signed(100 * r.diff, 2)} [${signed(100 * low, 2)},${signed(100 * high, 2)}]`;
      return `${signed(r.diff, 1)} [${signed(low, 1)},${signed(high, 1)}]`;
    },
    p: (r) => {
      const p = r.p_adjusted !== null && r.p_adjusted !== undefined ? r.p_adjusted : r.p;
      if (none(p)) return DASH;
      return p < 0.001 ? "<0.001" : fixed(p, 3);
    },
  };
  const pOf = (r) => (r.p_adjusted !== null && r.p_adjusted !== undefined ? r.p_adjusted : r.p);

  /* A difference and its interval against zero, on [-1, 1] (rates only: other metrics have units). */
  function diffBar(r) {
    if (!isRate(r.metric) || none(r.diff) || none(r.low) || none(r.high)) return "";
    const NS = "http://www.w3.org/2000/svg";
    const mk = (tag, attrs) => { const e = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v)); return e; };
    const W = 120, x = (v) => 4 + ((Math.max(-1, Math.min(1, v)) + 1) / 2) * (W - 8);
    const svg = mk("svg", { class: "diff-bar", width: W, height: 14, viewBox: `0 0 ${W} 14`, role: "img",
      "aria-label": `difference ${CF.diff(r)} points` });
    svg.append(mk("line", { x1: x(0), x2: x(0), y1: 1, y2: 13, class: "zero" }),
      mk("line", { x1: x(r.low), x2: x(r.high), y1: 7, y2: 7, class: "ci" + (r.winner ? " called" : "") }),
      mk("circle", { cx: x(r.diff), cy: 7, r: 3, class: "point" + (r.winner ? " called" : "") }));
    return svg;
  }

  function pairLabel(p) {
    return `${p.a.label} vs ${p.b.label}`;
  }

  /* Per pair and level, the all-families success row: where the agents stand, one line each. */
  function pairsTable(c) {
    const rows = [];
    c.pairs.forEach((p, i) => {
      for (const r of p.rows) if (r.family === null && r.metric === "success") rows.push({ i: i, p: p, r: r });
    });
    return render({
      id: "t-pairs", title: "Pairs: success on the same tasks",
      caption: `A−B: difference of success in points with its paired 95% interval; a verdict needs p < ${c.alpha}. ` +
        "Pick a pair for every metric and family.",
      columns: [
        { label: "A", get: (x) => txt(x.p.a.label) },
        { label: "B", get: (x) => txt(x.p.b.label) },
        { label: "level", get: (x) => txt(x.r.level) },
        { label: "tasks", num: true, get: (x) => num(String(x.r.tasks), x.r.tasks) },
        { label: "A-B [95% CI]", num: true, get: (x) => num(CF.diff(x.r), x.r.diff) },
        { label: "p", num: true, get: (x) => num(CF.p(x.r), pOf(x.r)) },
        { label: "verdict", get: (x) => cell(x.r.verdict, x.r.winner ? 0 : 1, x.r.winner ? "called" : "") },
        { label: "", extra: true, get: (x) => ({ text: "details ↓", value: null, link: "#pair-" + x.i }) },
      ],
      rows: rows,
    });
  }

  /* One table per level: the all-families rows first, then per family (as `arena compare`). */
  function pairTables(c, p) {
    const h = A.h;
    const levels = [...new Set(p.rows.map((r) => r.level))];
    return levels.map((level) => {
      const rows = p.rows.filter((r) => r.level === level);
      const tasks = Math.max(0, ...rows.filter((r) => r.family === null).map((r) => r.tasks));
      const several = rows.some((r) => r.family !== null);
      const spec = {
        id: `t-compare-${level}`, title: `${level}: A = ${p.a.label} vs B = ${p.b.label}, ${tasks} paired tasks`,
        caption: "means over paired tasks; differences of rates in points, of cost in cents (¢) below $1; p: paired " +
          "sign-flip test over tasks (exact McNemar for success with one trial per task), Holm-adjusted over families; " +
          `a verdict needs p < ${c.alpha}`,
        columns: [
          several ? { label: "family", get: (r) => txt(F.family(r.family)) } : null,
          { label: "metric", get: (r) => txt(r.metric) },
          { label: "A", num: true, get: (r) => num(CF.value(r, r.a), r.a) },
          { label: "B", num: true, get: (r) => num(CF.value(r, r.b), r.b) },
          { label: "A-B [95% CI]", num: true, get: (r) => num(CF.diff(r), r.diff) },
          { label: "", extra: true, get: (r) => ({ text: "", value: null, node: diffBar(r) }) },
          { label: "p", num: true, get: (r) => num(CF.p(r), pOf(r)) },
          { label: "verdict", get: (r) => cell(r.verdict, r.winner ? 0 : 1, r.winner ? "called" : "") },
        ].filter(Boolean),
        rows: rows,
      };
      const box = render(spec);
      return h("div", { class: "compare-level", "data-level": level }, box);
    });
  }

  function comparisonSection(state, c) {
    const h = A.h;
    const section = h("section", { id: "comparison", class: "comparison", "data-state": (state || {}).state || "absent" },
      h("h2", {}, "Paired comparison"));
    if (!c) {
      const detail = (state && state.detail) || "no comparison beside this site (comparison.json)";
      section.append(h("p", { class: "notice" }, state && state.state === "building" ? "Computing the comparison…" : detail));
      return section;
    }
    section.append(h("p", { class: "hint" },
      "Episodes paired on the same task, level, wording and fault rate; trials averaged per task; the task is the unit " +
      "of every test. A verdict is given only when the data show it; otherwise \"no clear difference\"."));
    const detail = h("div", { class: "pair-detail" });
    const picker = h("select", { id: "pair-picker", "aria-label": "pair of agents" },
      c.pairs.map((p, i) => h("option", { value: String(i) }, pairLabel(p))));
    const show = (i) => {
      const p = c.pairs[i];
      picker.value = String(i);
      detail.replaceChildren(h("h3", { id: "pair-" + i, class: "pair-title" }, pairLabel(p)), ...pairTables(c, p));
    };
    picker.addEventListener("change", () => show(Number(picker.value)));
    section.append(pairsTable(c), c.pairs.length > 1 ? h("p", {}, h("label", {}, "every metric of ", picker)) : null, detail,
      (c.notes || []).map((n) => h("p", { class: "notice" }, "note: " + n)));
    section.addEventListener("click", (e) => { // rows are redrawn when sorted: listen once, here
      const a = e.target.closest("#t-pairs a");
      if (!a) return;
      e.preventDefault();
      show(Number(a.getAttribute("href").slice("#pair-".length)));
      detail.scrollIntoView();
    });
    show(0);
    return section;
  }

  A.figures = { F: F, fixed: fixed, title: title, headline: headline, details: details, comparison: comparisonSection, group: group };
})();
