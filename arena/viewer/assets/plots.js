/* The run summary's plots, drawn as SVG by the page itself (no library, nothing from the network).
 *
 * Each plot is ARENA.plots[name] = (summary, element): it reads only the summary (the same one the
 * terminal and JSON reports read) and draws into the element, or writes a note saying what is
 * missing and how to get it. Every agent has one colour in every plot; marks carry data-agent,
 * data-level (and the like) and a <title> with the figure and its interval.
 */
(function () {
  "use strict";

  const A = (window.ARENA = window.ARENA || {});
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2a5bd7", "#e08a00", "#17803d", "#c0262d", "#7a3fb8", "#0f9bab", "#8c564b", "#d62f9b", "#5b6770",
    "#a88f00"];
  const FAULT_COLOURS = { without: "#8a949e", with: "#e08a00" };
  const RATE_TICKS = [0, 0.25, 0.5, 0.75, 1].map((v) => ({ v: v, label: Math.round(100 * v) + "%" }));
  const M = { l: 46, r: 14, t: 12, b: 40 };
  const FACET = { w: 360, h: 240 };

  const F = () => A.figures.F;
  const h = (...args) => A.h(...args);

  function s(tag, attrs, ...kids) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined && v !== false) e.setAttribute(k, String(v));
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  const tip = (text) => s("title", {}, text);
  const has = (x) => x !== null && x !== undefined && !Number.isNaN(x);
  const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));
  const short = (name, n = 16) => (name.length > n ? name.slice(0, n - 1) + "…" : name);

  function colours(summary) {
    const map = new Map(summary.agents.map((a, i) => [a, PALETTE[i % PALETTE.length]]));
    return (agent) => map.get(agent) || "#444";
  }

  function rateText(r) {
    if (!r || !has(r.value)) return "—";
    const f = F();
    return f.pct(r.value) + (has(r.low) && has(r.high) ? ` [${f.fixed(100 * r.low, 0)}-${f.fixed(100 * r.high, 0)}]` : "") +
      ` over ${r.tasks} task${r.tasks === 1 ? "" : "s"}` + (r.few ? " (few)" : "");
  }

  function note(el, text) {
    el.append(h("p", { class: "empty plot-note" }, text));
  }

  function legend(items) {
    return h("div", { class: "legend" }, items.map(([label, colour, cls]) =>
      h("span", { class: "legend-key" + (cls ? " " + cls : ""), title: label }, h("span", { class: "swatch", "data-colour": colour }), short(label, 28))));
  }

  /* Swatch colours are set from script (the page's CSP forbids inline style attributes in markup). */
  function paint(root) {
    root.querySelectorAll(".swatch[data-colour]").forEach((e) => { e.style.background = e.dataset.colour; });
  }

  function wide(el) {
    const figure = el.closest("figure");
    if (figure) figure.classList.add("wide");
  }

  // ------------------------------------------------------------------ scales and frames

  function linear(d0, d1, r0, r1) {
    const f = (v) => r0 + ((v - d0) / (d1 - d0 || 1)) * (r1 - r0);
    f.domain = [d0, d1];
    return f;
  }

  function niceTicks(lo, hi, count) {
    const span = hi - lo || 1;
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((x) => x * mag).find((x) => span / x <= count) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  /* An SVG with axes, ticks, grid lines and axis labels. x, y: {scale, ticks: [{v, label}], label}. */
  function frame(W, H, x, y, aria, bottom = M.b) {
    const svg = s("svg", { class: "plot", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": aria });
    const [x0, x1] = [M.l, W - M.r], [y0, y1] = [H - bottom, M.t];
    for (const t of y.ticks) {
      const py = y.scale(t.v);
      svg.append(s("line", { class: "grid", x1: x0, x2: x1, y1: py, y2: py }),
        s("text", { class: "tick", x: x0 - 5, y: py + 3.5, "text-anchor": "end" }, t.label));
    }
    for (const t of x.ticks || []) {
      const px = x.scale(t.v);
      svg.append(s("line", { class: "tickmark", x1: px, x2: px, y1: y0, y2: y0 + 4 }),
        s("text", { class: "tick", x: px, y: y0 + 15, "text-anchor": "middle" }, t.label));
    }
    svg.append(s("line", { class: "axis", x1: x0, x2: x1, y1: y0, y2: y0 }), s("line", { class: "axis", x1: x0, x2: x0, y1: y0, y2: y1 }));
    if (x.label) svg.append(s("text", { class: "axis-label", x: (x0 + x1) / 2, y: H - 6, "text-anchor": "middle" }, x.label));
    if (y.label) svg.append(s("text", { class: "axis-label", x: 12, y: (y0 + y1) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(y0 + y1) / 2})` }, y.label));
    return svg;
  }

  function rateAxis(H, label) {
    return { scale: linear(0, 1, H - M.b, M.t), ticks: RATE_TICKS, label: label };
  }

  /* A vertical interval with caps. */
  function whisker(x, yLow, yHigh, colour, cls) {
    return s("g", { class: cls || "ci" },
      s("line", { x1: x, x2: x, y1: yLow, y2: yHigh, stroke: colour }),
      s("line", { x1: x - 3, x2: x + 3, y1: yLow, y2: yLow, stroke: colour }),
      s("line", { x1: x - 3, x2: x + 3, y1: yHigh, y2: yHigh, stroke: colour }));
  }

  function facets(el, items) {
    const box = h("div", { class: "facets" });
    for (const [label, svg, extra] of items) box.append(h("div", { class: "facet", "data-facet": label }, h("div", { class: "facet-title" }, label), svg, extra || null));
    el.append(box);
    if (items.length > 1) wide(el);
  }

  /* Bars in groups (one group per `groups` entry, one bar per series) with their intervals.
   * value(group, series) gives a Rate or null; marks(group, series) the bar's data attributes. */
  function groupedBars(opts) {
    const { groups, series, value, colour, marks, yLabel, rotate } = opts;
    const n = series.length;
    const gap = 26;
    // bars share about 380 pixels, so a plot of 8 agents is as wide as one of 2 (bars get thinner)
    const bw = clamp(Math.floor((380 - groups.length * gap) / (groups.length * n)) - 2, 6, 26);
    const groupW = n * bw + (n - 1) * 2;
    const bottom = rotate ? 70 : M.b;
    const W = Math.max(opts.minWidth || 320, M.l + M.r + groups.length * (groupW + gap));
    const H = 250 + (rotate ? 30 : 0);
    const y = { scale: linear(0, 1, H - bottom, M.t), ticks: RATE_TICKS, label: yLabel };
    const svg = frame(W, H, { ticks: [] }, y, opts.aria, bottom);
    const baseY = H - bottom;
    const slot = (W - M.l - M.r) / groups.length;
    let few = false;
    groups.forEach((g, gi) => {
      const left = M.l + gi * slot + (slot - groupW) / 2;
      const box = s("g", { class: "bar-group", "data-group": g.key });
      const values = series.map((sr) => value(g, sr));
      const nothing = values.every((r) => !r || !has(r.value));
      if (nothing) box.append(s("text", { class: "missing", x: left + groupW / 2, y: baseY - 6, "text-anchor": "middle" }, "not measured"));
      series.forEach((sr, si) => {
        const r = values[si];
        const x = left + si * (bw + 2);
        if (!r || !has(r.value)) {
          if (!nothing) box.append(s("text", { class: "missing", x: x + bw / 2, y: baseY - 4, "text-anchor": "middle" }, "–"));
          return;
        }
        few = few || r.few;
        const top = y.scale(r.value);
        const c = colour(g, sr);
        box.append(s("rect", { class: "bar" + (r.few ? " few" : ""), x: x, y: top, width: bw, height: Math.max(0, baseY - top), fill: c,
          ...marks(g, sr), "data-value": r.value }, tip(`${sr.label} · ${g.label}: ${rateText(r)}`)));
        if (has(r.low) && has(r.high)) box.append(whisker(x + bw / 2, y.scale(r.low), y.scale(r.high), "#1d232b"));
      });
      const cx = left + groupW / 2;
      box.append(rotate
        ? s("text", { class: "tick group-label", x: cx, y: baseY + 12, "text-anchor": "end", transform: `rotate(-35 ${cx} ${baseY + 12})` }, short(g.label, 20), tip(g.label))
        : s("text", { class: "tick group-label", x: cx, y: baseY + 15, "text-anchor": "middle" }, short(g.label, 22), tip(g.label)));
      if (g.note) box.append(s("text", { class: "tick group-note", x: cx, y: M.t + 2, "text-anchor": "middle" }, g.note));
      svg.append(box);
    });
    return { svg: svg, few: few };
  }

  function fewNote(summary) {
    return h("p", { class: "hint" }, `pale: fewer than ${summary.options.min_tasks} tasks; whiskers: 95% intervals over tasks`);
  }

  // ------------------------------------------------------------------ the plots

  function successByLevel(summary, el) {
    const G = A.figures.group, colour = colours(summary);
    if (!summary.by_level.some((g) => has(g.success.value))) return note(el, "No scored episode yet: nothing to plot.");
    const { svg } = groupedBars({
      groups: summary.levels.map((lv) => ({ key: lv, label: lv })),
      series: summary.agents.map((a) => ({ key: a, label: a })),
      value: (g, a) => { const x = G(summary, a.key, g.key); return x ? x.success : null; },
      colour: (g, a) => colour(a.key),
      marks: (g, a) => ({ "data-agent": a.key, "data-level": g.key }),
      yLabel: "success", aria: "success by autonomy level, per agent",
    });
    el.append(svg, fewNote(summary));
  }

  function passHatK(summary, el) {
    const trials = Math.max(0, ...summary.by_level.map((g) => g.reliability.trials));
    if (trials < 2) return note(el, "pass^k needs several trials of each task: run with --trials 3 (this run has one per task).");
    const colour = colours(summary);
    const items = summary.levels.map((level) => {
      const W = FACET.w, H = FACET.h;
      const x = linear(1, trials, M.l + 14, W - M.r - 10);
      const step = Math.max(1, Math.ceil(trials / 8));
      const ticks = [];
      for (let k = 1; k <= trials; k += step) ticks.push({ v: k, label: String(k) });
      const y = rateAxis(H, "pass^k");
      const svg = frame(W, H, { scale: x, ticks: ticks, label: "k (trials that must all succeed)" }, y, `pass^k against k, ${level}`);
      svg.setAttribute("data-level", level);
      summary.agents.forEach((agent, i) => {
        const g = A.figures.group(summary, agent, level);
        if (!g) return;
        const hats = g.reliability.pass_hat_k || {};
        const ks = Object.keys(hats).map(Number).filter((k) => has(hats[k].value)).sort((a, b) => a - b);
        if (!ks.length) return;
        const dodge = (i - (summary.agents.length - 1) / 2) * 2.2;
        const c = colour(agent);
        const d = ks.map((k, j) => `${j ? "L" : "M"}${x(k) + dodge},${y.scale(hats[k].value)}`).join(" ");
        const line = s("g", { class: "series", "data-agent": agent },
          s("path", { class: "line", d: d, stroke: c, "data-agent": agent, "data-level": level }, tip(agent)));
        for (const k of ks) {
          const r = hats[k];
          if (has(r.low) && has(r.high)) line.append(whisker(x(k) + dodge, y.scale(r.low), y.scale(r.high), c));
          line.append(s("circle", { class: "point", cx: x(k) + dodge, cy: y.scale(r.value), r: 3.2, fill: c, "data-agent": agent, "data-k": k },
            tip(`${agent} · ${level} · pass^${k}: ${rateText(r)}`)));
        }
        svg.append(line);
      });
      return [level, svg];
    });
    facets(el, items);
    el.append(h("p", { class: "hint" }, "pass^1 is the success rate; a line that falls fast means an agent that cannot be relied on twice in a row"));
  }

  function costFrontier(summary, el) {
    const colour = colours(summary);
    const points = summary.frontier.filter((p) => has(p.success) && has(p.cost));
    if (!points.length) return note(el, "No agent used a model (no tokens were recorded), so there is no cost to plot.");
    const f = F();
    const levels = summary.levels.filter((lv) => points.some((p) => p.level === lv));
    const items = levels.map((level) => {
      const pts = points.filter((p) => p.level === level);
      const axis = pts[0].axis;
      const W = FACET.w, H = FACET.h + 10;
      const costs = pts.map((p) => p.cost);
      const hi = Math.max(...costs), loPos = Math.min(...costs.filter((c) => c > 0));
      const log = costs.every((c) => c > 0) && hi / loPos > 30;
      let x, ticks;
      const fmt = (v) => (axis === "cost" ? f.money(v) : f.tokens(v));
      if (log) {
        const a = Math.floor(Math.log10(loPos)), b = Math.ceil(Math.log10(hi));
        const sc = linear(a, b, M.l + 10, W - M.r - 60);
        x = (v) => sc(Math.log10(v));
        ticks = []; for (let e = a; e <= b; e++) ticks.push({ v: Math.pow(10, e), label: fmt(Math.pow(10, e)) });
      } else {
        const top = (hi || 1) * 1.1;
        x = linear(0, top, M.l + 10, W - M.r - 60);
        ticks = niceTicks(0, top, 4).map((v) => ({ v: v, label: fmt(v) }));
      }
      const y = rateAxis(H, "success");
      const label = (axis === "cost" ? "cost per episode" : "tokens per episode (a cost is unknown)") + (log ? ", log scale" : "");
      const svg = frame(W, H, { scale: x, ticks: ticks, label: label }, y, `cost against success, ${level}`);
      svg.setAttribute("data-level", level);
      const front = pts.filter((p) => !p.dominated).sort((a, b) => a.cost - b.cost || a.success - b.success);
      if (front.length) {
        let d = `M${x(front[0].cost)},${y.scale(0)} V${y.scale(front[0].success)}`;
        for (const p of front.slice(1)) d += ` H${x(p.cost)} V${y.scale(p.success)}`;
        d += ` H${W - M.r}`;
        svg.append(s("path", { class: "frontier", d: d, "data-level": level }, tip("the frontier: no agent is both cheaper and more successful")));
      }
      const placed = [];
      for (const p of [...pts].sort((a, b) => b.success - a.success)) {
        const c = colour(p.agent), px = x(p.cost), py = y.scale(p.success);
        if (has(p.success_low) && has(p.success_high)) svg.append(whisker(px, y.scale(p.success_low), y.scale(p.success_high), c));
        svg.append(s("circle", { class: "point" + (p.dominated ? " dominated" : " on-frontier"), cx: px, cy: py, r: 5,
          fill: p.dominated ? "#fff" : c, stroke: c, "data-agent": p.agent, "data-level": level, "data-dominated": p.dominated ? "1" : "0" },
          tip(`${p.agent} · ${level}: success ${f.pct(p.success)}, ${fmt(p.cost)} per episode` +
            (p.dominated ? `; dominated by ${p.dominated_by.join(", ")}` : "; on the frontier"))));
        let ly = py - 6 < 10 ? py + 14 : py - 6; // above the point (the frontier runs through it), below at the top
        while (placed.some((q) => Math.abs(q - ly) < 11)) ly += 11; // no label on top of another
        placed.push(ly);
        const text = short(p.agent, 14) + (p.dominated ? " (dominated)" : "");
        const left = px + 8 + 6.2 * text.length > W - 2; // labels near the right edge go on the left
        svg.append(s("text", { class: "point-label" + (p.dominated ? " dominated" : ""), x: left ? px - 8 : px + 8, y: ly,
          "text-anchor": left ? "end" : "start", "data-agent": p.agent }, text));
      }
      return [level, svg];
    });
    el.append(legend([["on the frontier", "#5b6770", "dot"], ["dominated", "#ffffff", "hollow"]]));
    facets(el, items);
    el.append(h("p", { class: "hint" }, "the line is the frontier; an agent below or right of it is dominated (another is as successful for less, or more successful for as much)"));
  }

  const NICE_MINUTES = [1 / 60, 5 / 60, 15 / 60, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 240, 480, 960, 1920, 3840, 7680];

  function timeHorizon(summary, el) {
    const colour = colours(summary);
    const f = F();
    const withPoints = summary.horizons.filter((hz) => hz.points.length);
    if (!withPoints.length) return note(el, "No scored episode has an estimated length in human minutes: nothing to plot.");
    const levels = summary.levels.filter((lv) => withPoints.some((hz) => hz.level === lv));
    const items = levels.map((level) => {
      const hs = withPoints.filter((hz) => hz.level === level);
      const W = FACET.w, H = FACET.h + 10;
      const mins = hs.flatMap((hz) => hz.points.map((p) => p.minutes)).filter((m) => m > 0);
      let lo = Math.min(...mins) / 1.6, hi = Math.max(...mins) * 1.6;
      for (const hz of hs) if (hz.status === "ok") { lo = Math.min(lo, clamp(hz.h80, lo / 4, hi)); hi = Math.max(hi, clamp(hz.h50, lo, hi * 4)); }
      const sc = linear(Math.log2(lo), Math.log2(hi), M.l + 6, W - M.r);
      const x = (m) => sc(Math.log2(clamp(m, lo, hi)));
      const ticks = NICE_MINUTES.filter((m) => m >= lo && m <= hi).map((m) => ({ v: m, label: f.minutes(m) }));
      const y = rateAxis(H, "success");
      const svg = frame(W, H, { scale: x, ticks: ticks.length > 7 ? ticks.filter((_, i) => i % 2 === 0) : ticks, label: "estimated human minutes (log scale)" }, y, `success against task length, ${level}`);
      svg.setAttribute("data-level", level);
      for (const q of [0.5, 0.8]) svg.append(s("line", { class: "guide", x1: M.l, x2: W - M.r, y1: y.scale(q), y2: y.scale(q) }));
      hs.forEach((hz, i) => {
        const c = colour(hz.agent);
        const g = s("g", { class: "series", "data-agent": hz.agent });
        const jitter = (i - (hs.length - 1) / 2) * 0.06;
        for (const p of hz.points) {
          const px = sc(Math.log2(p.minutes) + jitter);
          g.append(s("circle", { class: "point", cx: px, cy: y.scale(p.successes / p.episodes), r: clamp(2 + Math.sqrt(p.episodes) / 1.5, 2.5, 7),
            fill: c, "data-agent": hz.agent }, tip(`${hz.agent} · ${level}: ${p.successes}/${p.episodes} at ${f.minutes(p.minutes)}`)));
        }
        if (hz.status === "ok") {
          const steps = 60, [a, b] = [hz.intercept, hz.slope];
          let d = "";
          for (let j = 0; j <= steps; j++) {
            const lx = Math.log2(lo) + (j / steps) * (Math.log2(hi) - Math.log2(lo));
            d += `${j ? "L" : "M"}${sc(lx)},${y.scale(1 / (1 + Math.exp(-(a + b * lx))))}`;
          }
          g.append(s("path", { class: "fit", d: d, stroke: c, "data-agent": hz.agent }, tip(`${hz.agent} · ${level}: fitted success against length`)));
          for (const [q, m, cls] of [[0.5, hz.h50, "h50"], [0.8, hz.h80, "h80"]]) {
            if (!has(m) || m < lo || m > hi) continue;
            g.append(s("line", { class: cls, x1: x(m), x2: x(m), y1: y.scale(0), y2: y.scale(q), stroke: c, "data-agent": hz.agent },
              tip(`${hz.agent} · ${level}: ${Math.round(q * 100)}% horizon ${f.minutes(m)}`)));
          }
        }
        svg.append(g);
      });
      const lines = hs.map((hz) => {
        const text = hz.status === "ok"
          ? `50% at ${f.minutes(hz.h50)} [${hz.h50_low !== null ? f.minutes(hz.h50_low) : "0"}-${hz.h50_high !== null ? f.minutes(hz.h50_high) : "∞"}], 80% at ${f.minutes(hz.h80)}` +
            (hz.extrapolated ? " (extrapolated)" : "")
          : hz.note;
        return h("li", {}, h("span", { class: "swatch", "data-colour": colour(hz.agent) }), " ",
          h("strong", { title: hz.agent }, short(hz.agent, 24)), " ", text);
      });
      return [level, svg, h("ul", { class: "horizons" }, lines)];
    });
    facets(el, items);
    el.append(h("p", { class: "hint" }, "dots: success at each task length (bigger: more episodes); curve: the logistic fit; dashed: the 50% horizon, dotted: the 80% one"));
  }

  const REFLECTION = [["recovery", "recovered"], ["corrected_at_once", "fixed next"], ["blind_repeat", "blind repeats"],
    ["verified", "verified"]];

  function reflection(summary, el) {
    const colour = colours(summary);
    const groups = summary.by_agent.filter((g) => g.reflection.episodes);
    if (!groups.length || !groups.some((g) => REFLECTION.some(([k]) => has(g.reflection[k].value)))) {
      return note(el, "No reflection figures: they are read from the stored steps of scored episodes.");
    }
    const { svg } = groupedBars({
      groups: REFLECTION.map(([k, label]) => ({ key: k, label: label })),
      series: summary.agents.map((a) => ({ key: a, label: a })),
      value: (m, a) => { const g = groups.find((x) => x.agent === a.key); return g ? g.reflection[m.key] : null; },
      colour: (m, a) => colour(a.key),
      marks: (m, a) => ({ "data-agent": a.key, "data-metric": m.key }),
      yLabel: "share", aria: "reflection profile per agent", minWidth: 420,
    });
    el.append(svg, h("p", { class: "hint" }, "every level together; recovered, fixed next and blind repeats (lower is better) are " +
      "shares of the agent's own errors, verified a share of episodes; – : nothing to measure"));
  }

  function faults(summary, el) {
    const rows = summary.by_level.filter((g) => g.reliability.faults);
    if (!rows.length) return note(el, "No injected faults on tasks also run without them: run with --faults 0,0.2 to see success with and without faults.");
    const f = F();
    const levels = summary.levels.filter((lv) => rows.some((g) => g.level === lv));
    const series = [{ key: "without", label: "without faults" }, { key: "with", label: "with faults" }];
    const items = levels.map((level) => {
      const gs = rows.filter((g) => g.level === level);
      const { svg } = groupedBars({
        groups: gs.map((g) => ({ key: g.agent, label: g.agent, note: "ratio " + f.pct(g.reliability.faults.ratio.value) })),
        series: series,
        value: (g, sr) => { const x = gs.find((y) => y.agent === g.key).reliability.faults; return sr.key === "with" ? x.with_faults : x.without_faults; },
        colour: (g, sr) => FAULT_COLOURS[sr.key],
        marks: (g, sr) => ({ "data-agent": g.key, "data-level": level, "data-faults": sr.key }),
        yLabel: "success", aria: `success with and without faults, ${level}`, rotate: gs.length > 4, minWidth: 300,
      });
      return [level, svg];
    });
    el.append(legend(series.map((sr) => [sr.label, FAULT_COLOURS[sr.key]])));
    facets(el, items);
    el.append(h("p", { class: "hint" }, "on the tasks run both ways; ratio: success with faults over without, capped at 100% (fault robustness)"));
  }

  /* The agents' colours, shared by every plot (one legend above them all). */
  function agentLegend(summary) {
    const colour = colours(summary);
    const box = legend(summary.agents.map((a) => [a, colour(a)]));
    box.id = "plot-legend";
    paint(box);
    return box;
  }

  const PLOTS = { success_by_level: successByLevel, pass_hat_k: passHatK, cost_frontier: costFrontier,
    time_horizon: timeHorizon, reflection: reflection, faults: faults };
  A.plots = A.plots || {};
  A.plotLegend = agentLegend;
  for (const [name, draw] of Object.entries(PLOTS)) {
    A.plots[name] = (summary, el) => { draw(summary, el); paint(el); };
  }
})();
