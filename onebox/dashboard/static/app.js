// moodlens live dashboard: renders the server's snapshots (server-sent events) with plain DOM and SVG.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const svgEl = (tag, attrs) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  };
  const sign = (x) => (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(2);
  // every time on the page is the site's clock (the snapshot's zone), never the browser's
  let zone = "UTC";
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: zone });
  const when = (ms) => new Date(ms).toLocaleString([], { weekday: "short", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit", timeZone: zone });
  const hourOf = (ms) => new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hourCycle: "h23", timeZone: zone })
    .format(new Date(ms));
  const STALE_MS = 3 * 60000;  // a heartbeat comes every 30 s: three minutes without one and "now" is not now
  let cameraNames = {};
  let closesAfter = "";  // the site's lateness_s, in words
  const inWords = (s) => s % 60 ? s + " s" : s / 60 + (s === 60 ? " minute" : " minutes");
  const span = (s) => s < 90 ? Math.round(s) + " s" : s < 5400 ? Math.round(s / 60) + " min"
    : s < 172800 ? Math.round(s / 3600) + " h" : (s / 86400).toFixed(1) + " days";
  const ago = (ms) => span(Math.max(0, (Date.now() - ms) / 1000)) + " ago";

  function score(minutes, w) {
    const box = el("div", { class: "score", "data-minutes": String(minutes) });
    box.append(el("div", { class: "k" }, minutes + " min"));
    if (!w) {
      box.append(el("div", { class: "v few" }, "no data yet"),
        el("div", { class: "ci" }, `a window shows once it closes, ${closesAfter} after its last minute`));
      return box;
    }
    // a window is stale when a newer one of its length should have closed by now
    const stale = Date.now() - w.end_ms > minutes * 60000 + STALE_MS;
    if (w.hidden) {
      box.append(el("div", { class: "v few" }, "hidden"),
        el("div", { class: "ci" }, w.tracks + " customers: hidden so that another camera's few customers " +
          "cannot be worked out from the site's score"));
    } else if (w.tracks === 0) {
      box.append(el("div", { class: "v few" }, "no customers"), el("div", { class: "ci" }, "nobody seen in these minutes"));
    } else if (w.insufficient || w.net === null) {
      box.append(el("div", { class: "v few" }, "too few customers"),
        el("div", { class: "ci" }, w.tracks + " seen: too few to score (no alarm either)"));
    } else {
      box.append(el("div", { class: "v " + (w.net >= 0 ? "pos" : "neg") }, sign(w.net)));
      const ci = w.low === null ? "" : "95%: " + sign(w.low) + " … " + sign(w.high);
      box.append(el("div", { class: "ci" }, ci + " · " + w.tracks + " customers"));
    }
    if (stale) {
      box.classList.add("stale");
      box.append(el("div", { class: "ci stale-note" }, "stale: window to " + when(w.end_ms)));
    }
    return box;
  }

  function scores(target, windows, tracksNow, beatMs) {
    target.replaceChildren(score(5, windows["5"]), score(15, windows["15"]), score(60, windows["60"]));
    const now = el("div", { class: "score" });
    const stale = beatMs !== undefined && beatMs !== null && Date.now() - beatMs > STALE_MS;
    now.append(el("div", { class: "k" }, "tracks now"),
      el("div", { class: "v" + (stale ? " few" : "") }, tracksNow === null ? "–" : String(tracksNow)));
    if (stale) { now.classList.add("stale"); now.append(el("div", { class: "ci stale-note" }, "stale: heartbeat " + ago(beatMs))); }
    target.append(now);
  }

  function curve(snapshot) {
    // drawn at the width it is shown (at most 720): a phone's 350 px would shrink 720 units' labels to 6 px
    const W = Math.min(720, Math.max(320, $("curve").clientWidth || 720)), H = 220, P = 34;
    const t0 = snapshot.day.start_ms, t1 = snapshot.day.end_ms;  // the site's local midnights
    const x = (ms) => P + ((ms - t0) / (t1 - t0)) * (W - 2 * P);
    const y = (v) => (H - 14) / 2 - v * ((H - 14) / 2 - 8);
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "today's net score" });
    for (const v of [-1, -0.5, 0, 0.5, 1]) {
      svg.append(svgEl("line", { x1: P, x2: W - P, y1: y(v), y2: y(v), stroke: v === 0 ? "#98a2b3" : "#eaecf0" }));
      const label = svgEl("text", { x: 2, y: y(v) + 4, "font-size": 13, fill: "#667085" });
      label.textContent = v > 0 ? "+" + v : String(v);
      svg.append(label);
    }
    const hours = Math.round((t1 - t0) / 3600000);  // 23 or 25 on a clock change
    for (let h = 0; h <= hours; h += 6) {
      const at = h === hours ? t1 : t0 + h * 3600000;
      const label = svgEl("text", { x: x(at) - 10, y: H - 1, "font-size": 13, fill: "#667085" });
      label.textContent = h === hours ? "24h" : hourOf(at) + "h";
      svg.append(label);
    }
    const base = (snapshot.baseline || []).map((p) => `M${x(p[0])},${y(p[1])}H${x(p[2])}`).join("");
    if (base) svg.append(svgEl("path", { d: base, stroke: "#667085", "stroke-dasharray": "4 3", fill: "none" }));
    const fc = snapshot.forecast || [];
    if (fc.length) svg.append(svgEl("polyline", { points: fc.map((p) => `${x(p[0])},${y(p[1])}`).join(" "),
      stroke: "#9a6700", "stroke-dasharray": "2 3", fill: "none" }));
    const pts = (snapshot.curve || []).filter((p) => p[1] !== null);
    const band = pts.filter((p) => p[2] !== null);
    if (band.length > 1) {
      const top = band.map((p) => `${x(p[0])},${y(p[3])}`), bottom = band.slice().reverse().map((p) => `${x(p[0])},${y(p[2])}`);
      svg.append(svgEl("polygon", { points: top.concat(bottom).join(" "), fill: "#2e6bd133" }));
    }
    if (pts.length) svg.append(svgEl("polyline", { points: pts.map((p) => `${x(p[0])},${y(p[1])}`).join(" "),
      stroke: "#2e6bd1", "stroke-width": 2, fill: "none" }));
    for (const p of pts.slice(-1)) svg.append(svgEl("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, fill: "#2e6bd1" }));
    $("curve").replaceChildren(svg);
  }

  const RULES = { low_sentiment: "low sentiment", sentiment_drop: "drop below usual", camera_silent: "camera not working",
    site_unreachable: "site unreachable" };

  function alarmItem(a) {
    const li = el("li", { "data-rule": a.rule });
    const where = a.camera ? (cameraNames[a.camera] || a.camera) : "whole site";
    li.append(el("span", { class: a.state === "ALARM" ? "alarm" : "ok" }, a.state + " "),
      document.createTextNode(`${when(a.time_ms)} · ${RULES[a.rule] || a.rule} · ${where} — ${a.reason}`));
    return li;
  }

  // the box rewrites its status every few seconds: an old one is a box stuck, out of disk, or stopped
  const BOX_WORDS = { stuck: "the box may be stuck or its disk full", stopped: "the box is not running" };
  const BOX_PILL = { stuck: "box not updating", stopped: "box stopped" };

  function boxStatus(b) {
    const stale = b && b.verdict !== "current";
    $("box-stale").hidden = !stale;
    $("box-stale").textContent = stale ? `box status from ${clock(b.updated_ms)}, ${span(b.age_s)} ago: ` +
      BOX_WORDS[b.verdict] + "; its services, jobs and disk below are as they were then" : "";
    return stale ? BOX_PILL[b.verdict] : null;
  }

  function render(s) {
    zone = s.timezone || "UTC";
    closesAfter = inWords(s.lateness_s);
    $("zone").textContent = "times: " + zone;
    $("curve-h").textContent = "Today from midnight " + zone + " (15-minute net score)";
    cameraNames = s.camera_names || {};
    const siteName = s.site.name || s.site.id || "";  // people know the site by its [site] name
    $("site-name").textContent = siteName;
    $("site-name").title = s.site.id && s.site.id !== siteName ? "site id " + s.site.id : "";
    document.title = "moodlens " + siteName;
    const beats = s.cameras.filter((c) => c.health).map((c) => c.health.time_ms);
    scores($("site-scores"), s.site.windows || {}, s.site.tracks_now, beats.length ? Math.max(...beats) : null);
    const wait = s.site.waiting;
    $("waiting").hidden = !wait;
    $("waiting").textContent = wait ? `Waiting for this site since ${when(wait.time_ms)}: no event for ` +
      `${Math.round(wait.value || 0)} minutes. Its windows stay open for what its cameras spooled meanwhile.` : "";
    curve(s);
    const open = s.open_alarms.map(alarmItem);
    $("open-alarms").replaceChildren(...(open.length ? open : [el("li", { class: "ok" }, "none: all clear")]));
    const history = s.alarms.slice(0, 20).map(alarmItem);
    $("alarm-history").replaceChildren(...(history.length ? history : [el("li", {}, "no alarm yet")]));
    $("cameras").replaceChildren(...s.cameras.map((c) => {
      const box = el("div", { class: "cam" + (c.down ? " down" : ""), "data-camera": c.id });
      box.append(el("strong", {}, c.name + (c.name !== c.id ? " (" + c.id + ")" : "")));
      if (c.down) {
        box.append(el("div", { class: "down-note" }, "NOT WORKING since " + when(c.down.time_ms) + ": " + c.down.reason));
      } else if (c.edge && c.edge.reason && c.edge.state !== "running") {
        box.append(el("div", { class: "down-note" }, `edge ${c.edge.state} (exit ${c.edge.last_exit}): ${c.edge.reason}`));
      }
      const row = el("div", { class: "scores" });
      const h = c.health;
      scores(row, c.windows || {}, c.tracks_now, h ? h.time_ms : null);
      box.append(row);
      box.append(el("div", { class: "small" }, h ? `heartbeat ${ago(h.time_ms)} · ${h.fps.toFixed(1)} frames/s · ` +
        `spool ${h.spool_depth}${h.dropped ? " (" + h.dropped + " dropped)" : ""} · model ${h.model_version}` : "no heartbeat yet"));
      const d = c.drift;
      if (d) box.append(el("div", { class: "small drift drift-" + d.verdict.replace(/ /g, "-") },
        `model drift ${d.day}: ${d.verdict}${d.psi === null ? "" : " (PSI " + d.psi.toFixed(2) + ")"}`));
      return box;
    }));
    const services = s.children.map((c) => {
      const tr = el("tr");
      let state = c.state === "backoff" ? `restarting in ${c.restart_in_s}s (exit ${c.last_exit})` : c.state;
      if (c.state === "failed") state = `failed (exit ${c.last_exit}), not restarted`;
      if (c.reason && c.state !== "running") state += ": " + c.reason;
      // a camera's edge is named after the camera's id: people know the camera by its name
      const camera = c.name.startsWith("edge-") ? cameraNames[c.name.slice(5)] : undefined;
      const service = camera && camera !== c.name.slice(5) ? `${c.name} (${camera})` : c.name;
      tr.append(el("td", {}, service), el("td", { class: "state-" + c.state }, state), el("td", {}, String(c.restarts)),
        el("td", {}, c.uptime_s === null ? "–" : span(c.uptime_s)));
      return tr;
    });
    const none = el("tr");
    none.append(el("td", { colspan: "4" }, "no service status: moodlens up writes it for its box"));
    $("children").tBodies[0].replaceChildren(...(services.length ? services : [none]));
    const d = s.disk;
    $("disk").textContent = d ? `disk: ${d.used_mb} of ${d.budget_mb} MiB (${d.percent}%)` + (d.level !== "ok" ? " — " + d.level : "") : "";
    $("disk").textContent += (s.jobs || []).map((j) => ` · ${j.name} last ran ${when(j.last_run_ms)}${j.last_exit ? " (failed: exit " + j.last_exit + ")" : ""}`).join("");
    $("reports").replaceChildren(...(s.reports.length ? s.reports.map((r) => {
      const li = el("li");
      li.append(el("a", { href: "/reports/" + encodeURIComponent(r.name) }, r.name),
        document.createTextNode(" · " + when(r.modified_ms)));
      return li;
    }) : [el("li", {}, "no report yet")]));
  }

  const token = new URLSearchParams(location.search).get("token");
  const source = new EventSource("/events" + (token ? "?token=" + encodeURIComponent(token) : ""));
  // "live" only once a snapshot is on screen: an open stream with nothing rendered yet is not live.
  const connection = (text, kind) => { $("connection").textContent = text; $("connection").className = "pill " + kind; };
  source.onopen = () => connection("connecting", "");
  source.onerror = () => connection("reconnecting", "down");
  let shown = null;
  source.onmessage = (message) => {
    shown = JSON.parse(message.data);
    render(shown);
    const stale = boxStatus(shown.box);  // the page is connected, but what it shows is not live
    if (stale) connection(stale, "down"); else connection("live", "live");
  };
  addEventListener("resize", () => { if (shown) curve(shown); });  // a phone turned: labels stay readable
})();
