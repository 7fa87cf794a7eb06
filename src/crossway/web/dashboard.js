// crossway's dashboard: reads /admin/stats, /admin/usage and /admin/requests and draws them
// with plain DOM and SVG (no library, nothing loaded from elsewhere). Refreshes every few
// seconds while the page is open.
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const KEY_STORE = "crossway-admin-key";
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  let timer = null;
  let last = null;

  // ---------------------------------------------------------------- formatting
  const int = (n) => (n == null ? "–" : Math.round(n).toLocaleString("en-US"));
  const compact = (n) => {
    if (n == null) return "–";
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(1) + "B";
    if (a >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (n / 1e3).toFixed(1) + "k";
    return int(n);
  };
  const usd = (v) => {
    if (v == null) return "–";
    if (v === 0) return "$0";
    if (Math.abs(v) < 0.01) return "$" + v.toFixed(5);
    return "$" + v.toFixed(2);
  };
  const ms = (v) => {
    if (v == null) return "–";
    if (v >= 10000) return (v / 1000).toFixed(1) + " s";
    if (v >= 1000) return (v / 1000).toFixed(2) + " s";
    return v.toFixed(v >= 100 ? 0 : 1) + " ms";
  };
  const pct = (v) => (v * 100).toFixed(v < 0.1 ? 1 : 0) + "%";
  const duration = (s) => {
    if (s < 60) return Math.round(s) + " s";
    if (s < 3600) return Math.round(s / 60) + " min";
    if (s < 86400) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " days";
  };
  const clock = (ts) => new Date(ts * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  function fill(id, ...nodes) {
    const target = $(id);
    target.replaceChildren(...nodes);
  }
  function setText(id, text, value) {
    const node = $(id);
    node.textContent = text;
    if (value !== undefined) node.dataset.value = String(value);
  }

  // ---------------------------------------------------------------- fetching
  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  async function get(path) {
    const headers = { accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.authorization = "Bearer " + key;
    const resp = await fetch(path, { headers, cache: "no-store" });
    if (!resp.ok) {
      let message = "HTTP " + resp.status;
      try { message = (await resp.json()).error.message || message; } catch (e) { /* not JSON */ }
      throw new HttpError(resp.status, message);
    }
    return resp.json();
  }

  function show(view) {
    $("login").hidden = view !== "login";
    $("refused").hidden = view !== "refused";
    $("main").hidden = view !== "main";
  }

  async function refresh() {
    try {
      const [stats, usage, recent] = await Promise.all(
        [get("/admin/stats"), get("/admin/usage?days=30"), get("/admin/requests?limit=25")]);
      last = { stats, usage, recent };
      show("main");
      render();
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) {
        stop();
        const hadKey = sessionStorage.getItem(KEY_STORE);
        sessionStorage.removeItem(KEY_STORE);
        $("login-reason").textContent = hadKey
          ? "That key was refused: " + err.message
          : "This crossway asks for its admin key to show its figures.";
        show("login");
        $("key").focus();
        return;
      }
      if (err instanceof HttpError && err.status === 403) {
        stop();
        $("refused-reason").textContent = err.message;
        show("refused");
        return;
      }
      $("status").textContent = "cannot reach crossway: " + err.message;
    }
  }
  function start() {
    stop();
    refresh();
    timer = setInterval(refresh, REFRESH_MS);
  }
  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
  }

  // ---------------------------------------------------------------- rendering
  function chosenWindow(stats) {
    const name = $("window").value;
    if (name === "since_start") return { label: "since start", data: stats.since_start };
    const w = stats.windows && stats.windows[name];
    if (!w || w.error || !w.totals) {
      return { label: "since start (" + ((w && w.error) || (stats.windows && stats.windows.error) || "no store") + ")", data: stats.since_start };
    }
    return { label: $("window").selectedOptions[0].textContent, data: w };
  }

  function render() {
    const { stats, usage, recent } = last;
    const store = stats.usage_store;
    const healthy = !store.enabled || store.healthy;
    fill("status", el("span", { class: "dot" + (healthy ? "" : " bad") }),
      "up " + duration(stats.uptime_s) + " · v" + stats.version);
    setText("updated", "updated " + new Date().toLocaleTimeString());
    const chosen = chosenWindow(stats);
    headline(chosen, stats);
    minutes(usage.minutes || []);
    quota(stats.quota);
    health(stats.health);
    latency(chosen);
    perDay(usage);
    models(usage);
    requests(recent.requests);
    setText("store", store.enabled
      ? "usage store " + store.description + (store.healthy ? "" : " (unavailable: rows are being dropped)") +
        " · " + int(store.rows_written) + " rows written, " + int(store.rows_dropped) + " dropped"
      : "usage store off");
  }

  function headline(chosen, stats) {
    const t = chosen.data.totals;
    setText("h-requests", int(t.requests), t.requests);
    setText("h-requests-sub", chosen.label + (t.fallbacks ? " · " + int(t.fallbacks) + " fallbacks" : ""));
    setText("h-errors", int(t.errors), t.errors);
    setText("h-errors-sub", pct(t.error_rate) + " of requests");
    setText("h-tokens", compact(t.tokens), t.tokens);
    setText("h-tokens-sub", compact(t.input_tokens) + " in · " + compact(t.output_tokens) + " out · " + compact(t.cache_read_tokens) + " cached");
    setText("h-cost", usd(t.cost_usd), t.cost_usd);
    setText("h-cost-sub", t.estimated_cost_usd ? usd(t.estimated_cost_usd) + " of it estimated" : "as the upstreams reported it");
    setText("h-latency", ms(t.latency_p50_ms) + " / " + ms(t.latency_p95_ms));
    setText("h-ttfb", "first token p50 " + ms(t.ttfb_p50_ms) + " · p95 " + ms(t.ttfb_p95_ms));
    setText("h-inflight", int(stats.in_flight) + " in flight", stats.in_flight);
    setText("h-streams", int(stats.open_streams) + " open streams");
  }

  function barChart(points, series, opts) {
    // points: [{label, values: [..per series]}]; series: [{cls, name}]; stacked=false overlays.
    const W = opts.width || 640, H = opts.height || 150, L = 58, B = 18, T = 6;
    const max = Math.max(1e-9, ...points.map((p) => Math.max(...p.values)));
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title });
    root.append(svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }));
    for (const f of [0.5, 1]) {
      const y = H - B - (H - B - T) * f;
      root.append(svg("line", { x1: L, y1: y, x2: W, y2: y, class: "axis" }));
      const t = svg("text", { x: L - 4, y: y + 3, "text-anchor": "end" });
      t.textContent = opts.format(max * f);
      root.append(t);
    }
    const slot = (W - L) / Math.max(points.length, 1);
    points.forEach((p, i) => {
      p.values.forEach((v, s) => {
        if (!v) return;
        const h = (H - B - T) * (v / max);
        const w = Math.max(slot * (s === 0 ? 0.8 : 0.5), 1);
        const x = L + i * slot + (slot - w) / 2;
        const r = svg("rect", { x, y: H - B - h, width: w, height: h, class: series[s].cls });
        const title = svg("title", {});
        title.textContent = p.label + ": " + series[s].name + " " + opts.format(v);
        r.append(title);
        root.append(r);
      });
      if (i % Math.ceil(points.length / 6) === 0) {
        const t = svg("text", { x: L + i * slot + slot / 2, y: H - 4, "text-anchor": "middle" });
        t.textContent = p.label;
        root.append(t);
      }
    });
    return root;
  }

  function minutes(points) {
    const data = points.map((p) => ({ label: clock(p.ts).slice(0, 5), values: [p.requests, p.errors] }));
    const total = points.reduce((a, p) => a + p.requests, 0);
    fill("chart-minutes",
      barChart(data, [{ cls: "bar-req", name: "requests" }, { cls: "bar-err", name: "errors" }],
        { title: "requests and errors per minute", format: compact, width: 1280, height: 170 }),
      el("div", { class: "legend" },
        el("span", {}, el("span", { class: "swatch req" }), "requests (" + int(total) + " in the hour)"),
        el("span", {}, el("span", { class: "swatch err" }), "errors (" + int(points.reduce((a, p) => a + p.errors, 0)) + ")")));
  }

  function quota(q) {
    if (q.error) { fill("quota", el("div", { class: "empty", text: "quota unavailable: " + q.error })); return; }
    if (!q.keys.length) { fill("quota", el("div", { class: "empty", text: "no OpenCode Go key configured" })); return; }
    fill("quota", ...q.keys.map((k) => el("div", { class: "meter", "data-instance": k.instance },
      el("div", { class: "key", text: k.instance }),
      ...k.windows.map((w) => {
        const share = Math.min(w.share, 1);
        const bar = el("div", { class: "fill" + (w.share >= 1 ? " full" : w.share >= 0.8 ? " warn" : "") });
        bar.style.width = (share * 100).toFixed(1) + "%";
        let note = usd(w.spent_usd) + " of " + usd(w.limit_usd) + " (" + pct(w.share) + ")";
        if (w.reported) note = "limit reached (Go) until " + clock(w.reported.until);
        return el("div", { class: "row" }, el("span", { text: w.window }),
          el("div", { class: "track" }, bar), el("span", { class: "muted", text: note }));
      }))));
  }

  function health(items) {
    if (!items.length) { fill("health", el("div", { class: "empty", text: "every instance usable (routing reports no breaker or cooldown)" })); return; }
    const now = Date.now() / 1000;
    const rows = items.map((h) => {
      const cool = h.cooldown_until && h.cooldown_until > now;
      return el("tr", { "data-instance": h.instance },
        el("td", { text: h.instance + (h.model ? ":" + h.model : "") }),
        el("td", {}, el("span", { class: "pill " + h.breaker, text: h.breaker.replace("_", "-") })),
        el("td", {}, cool ? el("span", { class: "pill cool", text: "cooling down " + duration(h.cooldown_until - now) }) : el("span", { class: "muted", text: "–" })),
        el("td", { class: "muted", text: h.reason || "" }));
    });
    fill("health", el("table", {}, el("thead", {}, el("tr", {}, ...["instance:model", "breaker", "cooldown", "why"].map((t) => el("th", { text: t })))), el("tbody", {}, ...rows)));
  }

  function latency(chosen) {
    setText("lat-window", "(" + chosen.label + ")");
    const groups = (chosen.data.by_model || []).filter((g) => g.latency_p50_ms != null);
    if (!groups.length) { fill("latency", el("div", { class: "empty", text: "no requests in this window" })); return; }
    const max = Math.max(...groups.map((g) => g.latency_p95_ms || g.latency_p50_ms || 0), 1e-9);
    const rows = groups.map((g) => {
      const lane = (v, cls) => { const b = el("div", { class: "fill " + cls }); b.style.width = ((v || 0) / max * 100).toFixed(1) + "%"; return b; };
      const bars = el("div", {}, el("div", { class: "track" }, lane(g.latency_p50_ms, "p50")), el("div", { class: "track" }, lane(g.latency_p95_ms, "p95")), el("div", { class: "track" }, lane(g.ttfb_p50_ms, "ttft")));
      return el("tr", { "data-model": g.key },
        el("td", { text: g.key }), el("td", { class: "num", text: int(g.requests) }),
        el("td", { class: "num", text: ms(g.latency_p50_ms) }), el("td", { class: "num", text: ms(g.latency_p95_ms) }),
        el("td", { class: "num", text: ms(g.latency_p99_ms) }), el("td", { class: "num", text: ms(g.ttfb_p50_ms) }),
        el("td", { class: "num", text: ms(g.ttfb_p95_ms) }), el("td", { class: "num", text: ms(g.ttfb_p99_ms) }),
        el("td", { class: "bars" }, bars));
    });
    const head = ["model", "requests", "p50", "p95", "p99", "TTFT p50", "TTFT p95", "TTFT p99", ""];
    fill("latency", el("table", {}, el("thead", {}, el("tr", {}, ...head.map((t, i) => el("th", { class: i && i < 8 ? "num" : "", text: t })))), el("tbody", {}, ...rows)),
      el("div", { class: "legend" }, el("span", {}, el("span", { class: "swatch p50" }), "latency p50"), el("span", {}, el("span", { class: "swatch p95" }), "latency p95"), el("span", {}, el("span", { class: "swatch ttft" }), "first token p50")));
  }

  function perDay(usage) {
    if (usage.error) {
      fill("chart-cost-day", el("div", { class: "empty", text: usage.error }));
      fill("chart-tokens-day", el("div", { class: "empty", text: usage.error }));
      return;
    }
    const days = usage.by_day || [];
    if (!days.length) {
      fill("chart-cost-day", el("div", { class: "empty", text: "nothing recorded yet" }));
      fill("chart-tokens-day", el("div", { class: "empty", text: "nothing recorded yet" }));
      return;
    }
    const label = (d) => (d.key || "").slice(5);
    fill("chart-cost-day", barChart(days.map((d) => ({ label: label(d), values: [d.cost_usd] })), [{ cls: "bar-cost", name: "cost" }], { title: "cost per day", format: usd }));
    fill("chart-tokens-day", barChart(days.map((d) => ({ label: label(d), values: [d.tokens] })), [{ cls: "bar-tok", name: "tokens" }], { title: "tokens per day", format: compact }));
  }

  function models(usage) {
    const groups = usage.by_model || [];
    if (usage.error || !groups.length) { fill("models", el("div", { class: "empty", text: usage.error || "nothing recorded yet" })); return; }
    const maxCost = Math.max(...groups.map((g) => g.cost_usd), 1e-12);
    const maxTok = Math.max(...groups.map((g) => g.tokens), 1);
    fill("models", ...groups.map((g) => {
      const useCost = maxCost > 1e-12;
      const b = el("div", { class: "fill" });
      b.style.width = ((useCost ? g.cost_usd / maxCost : g.tokens / maxTok) * 100).toFixed(1) + "%";
      return el("div", { class: "hbar", "data-model": g.key }, el("span", { text: g.key || "(none)" }), el("div", { class: "track" }, b),
        el("span", { class: "muted", text: usd(g.cost_usd) + (g.estimated_cost_usd ? " (est. " + usd(g.estimated_cost_usd) + ")" : "") + " · " + compact(g.tokens) + " tokens · " + int(g.requests) + " req" }));
    }));
  }

  function requests(items) {
    if (!items.length) { fill("requests", el("div", { class: "empty", text: "no requests yet" })); return; }
    const rows = items.map((r) => el("tr", { "data-request": r.request_id },
      el("td", { class: "muted", text: clock(r.ts) }),
      el("td", { text: r.model || "–" }),
      el("td", { text: r.client }),
      el("td", {}, el("span", { class: "pill" + (r.outcome === "ok" || r.outcome === "client_closed" ? "" : " err"), text: r.status + " " + r.outcome })),
      el("td", { class: "num", text: ms(r.duration_ms) }),
      el("td", { class: "num", text: ms(r.ttfb_ms) }),
      el("td", { class: "num", text: compact(r.input_tokens + r.cache_read_tokens) + " / " + compact(r.output_tokens) }),
      el("td", { class: "num", text: usd(r.cost_usd) + (r.cost_estimated ? "*" : "") }),
      el("td", { class: "attempts" }, ...r.attempts.map((a, i) => el("div", { class: a.failure ? "fail" : "" },
        (i + 1) + ". " + a.target + " " + (a.fast ? "fast" : "translated") + " · " + (a.failure ? a.failure + (a.status ? " " + a.status : "") : (a.status || "")) + (a.duration_ms == null ? "" : " · " + ms(a.duration_ms)))))));
    const head = ["time", "model", "client", "status", "total", "TTFB", "tokens in/out", "cost", "attempts"];
    fill("requests", el("table", {}, el("thead", {}, el("tr", {}, ...head.map((t, i) => el("th", { class: i >= 4 && i <= 7 ? "num" : "", text: t })))), el("tbody", {}, ...rows)),
      el("div", { class: "legend", text: "* cost estimated from crossway's price table (the upstream sent none)" }));
  }

  // ---------------------------------------------------------------- start
  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = $("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORE, key);
      $("key").value = "";
      start();
    });
    $("window").addEventListener("change", () => { if (last) render(); });
    document.addEventListener("visibilitychange", () => { if (!document.hidden && timer === null && !$("main").hidden) start(); });
    start();
  });
})();
