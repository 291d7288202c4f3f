import Foundation
import TaktCore

/// `GET /?site=S[&target_gwh=X]`: the live page of one site — one self-contained HTML document
/// (its JavaScript and SVG inline; no build step, nothing from another server). It loads the
/// current figures from `/api/v1/windows`, `/api/v1/plan` and `/api/v1/alerts`, then follows
/// `/api/v1/live` (Server-Sent Events) and redraws at most every 250 ms:
///
/// - cumulative GWh of the year (the site's `_site` `1d` rows of the newest data's year, site
///   time zone) against the pace of the target (`target_gwh`, default the site's nameplate);
/// - good units per hour, lines × the last 24 hours (`1h` line rows), a heatmap;
/// - each line's state (from its newest `1m` row: running, down, no plan) and the OEE of its
///   newest hour;
/// - the active alerts.
///
/// The figures carry `data-*` attributes with the raw values (the Chromium test reads them).
enum LivePage {
    /// The page of `plant`, the sites of the daemon for the site menu.
    static func html(plant: Plant, sites: [String]) -> String {
        func json(_ strings: [String]) -> String {
            var out: [UInt8] = [UInt8(ascii: "[")]
            for (i, s) in strings.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONOut.string(s, &out)
            }
            out.append(UInt8(ascii: "]"))
            return String(decoding: out, as: UTF8.self)
        }
        return template
            .replacingOccurrences(of: "__SITE__", with: plant.site)
            .replacingOccurrences(of: "__TZ__", with: plant.timeZone.identifier)
            .replacingOccurrences(of: "__LINES__", with: json(plant.lines.map(\.id)))
            .replacingOccurrences(of: "__SITES__", with: json(sites))
    }

    private static let template = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Takt live · __SITE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #1d2433; background: #f6f7f9; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 0 0 8px; }
  .sub { color: #5b6475; margin-bottom: 14px; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  .card { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 12px 14px; }
  .wide { grid-column: 1 / span 2; }
  .big { font-size: 26px; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; } td, th { padding: 3px 6px; text-align: left; border-bottom: 1px solid #eef0f3; }
  th { color: #5b6475; font-weight: 500; }
  .running { color: #1a7f37; } .down { color: #c62828; font-weight: 600; } .noplan, .nodata { color: #8a93a3; }
  .alert { color: #c62828; } .none { color: #8a93a3; }
  svg text { font: 10px system-ui, sans-serif; }
</style>
</head>
<body>
<h1>Takt live · <span id="site">__SITE__</span></h1>
<div class="sub">Time zone __TZ__ · <span id="updated">waiting for data…</span></div>
<div class="grid">
  <div class="card"><h2>Energy this year, GWh</h2>
    <div><span class="big" id="ytd-gwh" data-gwh="0">0.000000</span> GWh in <span id="year">—</span>;
      pace of <span id="target">—</span> GWh: <span id="pace-gwh">—</span> GWh</div>
    <svg id="cumulative" width="100%" height="170" viewBox="0 0 560 170" preserveAspectRatio="none"></svg></div>
  <div class="card"><h2>Lines</h2><table><thead><tr><th>line</th><th>state</th><th>OEE (newest hour)</th><th>good, newest hour</th></tr></thead>
    <tbody id="lines"></tbody></table></div>
  <div class="card wide"><h2>Good units per hour, last 24 hours</h2><svg id="heatmap" width="100%" height="60"></svg></div>
  <div class="card wide"><h2>Active alerts</h2><div id="alerts" class="none">none</div></div>
</div>
<script>
"use strict";
const SITE = "__SITE__", TZ = "__TZ__", LINES = __LINES__;
const params = new URLSearchParams(location.search);
const targetParam = parseFloat(params.get("target_gwh"));
const rows = new Map();      // line|window|start → newest revision of the window object
const alerts = new Map();    // line|kind → alert object
let plan = null, lastEvent = null, dirty = false;

function put(r) {
  const k = r.line + "|" + r.window + "|" + r.start, old = rows.get(k);
  if (!old || old.revision <= r.revision) rows.set(k, r);
}
const yearOf = (ms) => parseInt(new Intl.DateTimeFormat("en-CA", {timeZone: TZ, year: "numeric"}).format(new Date(ms)), 10);
function offsetMs(ms) {  // the site's UTC offset at ms
  const p = new Intl.DateTimeFormat("en-US", {timeZone: TZ, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
                                            hour: "numeric", minute: "numeric", second: "numeric"}).formatToParts(new Date(ms));
  const v = (t) => parseInt(p.find((x) => x.type === t).value, 10);
  return Date.UTC(v("year"), v("month") - 1, v("day"), v("hour"), v("minute"), v("second")) - Math.floor(ms / 1000) * 1000;
}
const localMidnight = (y) => { const guess = Date.UTC(y, 0, 1); return guess - offsetMs(guess); };
const of = (window, line) => [...rows.values()].filter((r) => r.window === window && (line === undefined || r.line === line));
const newest = (list) => list.reduce((a, b) => (!a || b.start > a.start ? b : a), null);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

function render() {
  dirty = false;
  // Energy this year: the _site 1d rows of the newest day's year.
  const days = of("1d", "_site"), last = newest(days);
  const year = last ? yearOf(last.start) : (plan && plan.year);
  const inYear = days.filter((r) => yearOf(r.start) === year).sort((a, b) => a.start - b.start);
  let sum = 0; const points = inYear.map((r) => { sum += r.energy_kwh; return [r.end, sum / 1e6]; });
  const target = targetParam > 0 ? targetParam : (plan ? plan.site_total.nameplate_gwh_per_year : null);
  const ytd = document.getElementById("ytd-gwh");
  ytd.textContent = (sum / 1e6).toFixed(6); ytd.dataset.gwh = String(sum / 1e6);
  document.getElementById("year").textContent = year || "—";
  document.getElementById("target").textContent = target ? target.toFixed(2) : "—";
  const svgC = document.getElementById("cumulative");
  if (year) {
    const y0 = localMidnight(year), y1 = localMidnight(year + 1), now = last ? last.end : y0;
    const pace = target ? target * (now - y0) / (y1 - y0) : null;
    document.getElementById("pace-gwh").textContent = pace === null ? "—" : pace.toFixed(3);
    const top = Math.max(target || 0, sum / 1e6, 1e-9) * 1.05, X = (t) => 40 + 510 * (t - y0) / (y1 - y0), Y = (g) => 155 - 145 * g / top;
    let s = `<line x1="40" y1="155" x2="550" y2="155" stroke="#999"/><line x1="40" y1="10" x2="40" y2="155" stroke="#999"/>`;
    s += `<text x="2" y="14">${top.toFixed(2)}</text><text x="30" y="168">Jan</text><text x="530" y="168">Dec</text>`;
    if (target) s += `<line x1="${X(y0)}" y1="${Y(0)}" x2="${X(y1)}" y2="${Y(target)}" stroke="#9aa3b2" stroke-dasharray="4 3"/>`;
    if (points.length) s += `<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="${[[y0, 0], ...points].map(([t, g]) => X(t).toFixed(1) + "," + Y(g).toFixed(1)).join(" ")}"/>`;
    svgC.innerHTML = s;
  }
  // Lines: state from the newest 1m row, OEE and good of the newest 1h row.
  document.getElementById("lines").innerHTML = LINES.map((line) => {
    const m = newest(of("1m", line)), h = newest(of("1h", line));
    let state = "no data", cls = "nodata";
    if (m) { if (m.planned_s === 0) { state = "no plan"; cls = "noplan"; } else if (m.run_s * 2 >= m.planned_s) { state = "running"; cls = "running"; } else { state = "down"; cls = "down"; } }
    const oee = h && h.oee !== null ? h.oee : null;
    return `<tr data-line="${esc(line)}"><td>${esc(line)}</td><td class="state ${cls}">${state}</td>` +
      `<td class="oee" data-oee="${oee === null ? "" : oee}" data-start="${h ? h.start : ""}">${oee === null ? "—" : (100 * oee).toFixed(1) + " %"}</td>` +
      `<td class="good" data-good="${h ? h.good : ""}">${h ? h.good : "—"}</td></tr>`;
  }).join("");
  // Heatmap: lines × the 24 newest hours.
  const hours = [...new Set(of("1h").filter((r) => r.line !== "_site").map((r) => r.start))].sort((a, b) => a - b).slice(-24);
  const cells = of("1h").filter((r) => r.line !== "_site" && hours.includes(r.start));
  const max = Math.max(1, ...cells.map((r) => r.good_per_hour));
  const cw = 44, ch = 20, left = 90, svgH = document.getElementById("heatmap");
  svgH.setAttribute("height", String(24 + ch * LINES.length)); svgH.setAttribute("viewBox", `0 0 ${left + cw * 24} ${24 + ch * LINES.length}`);
  let hm = hours.map((t, i) => `<text x="${left + i * cw + 4}" y="14">${new Intl.DateTimeFormat("en-GB", {timeZone: TZ, hour: "2-digit", minute: "2-digit"}).format(new Date(t))}</text>`).join("");
  LINES.forEach((line, j) => {
    hm += `<text x="2" y="${24 + j * ch + 14}">${esc(line)}</text>`;
    hours.forEach((t, i) => {
      const r = rows.get(line + "|1h|" + t); if (!r) return;
      const a = r.good_per_hour / max, fill = `rgb(${Math.round(235 - 200 * a)},${Math.round(240 - 120 * a)},${Math.round(250 - 60 * a)})`;
      hm += `<g class="cell" data-line="${esc(line)}" data-start="${t}" data-good="${r.good}"><rect x="${left + i * cw}" y="${24 + j * ch}" width="${cw - 2}" height="${ch - 2}" fill="${fill}"/>` +
            `<text x="${left + i * cw + 4}" y="${24 + j * ch + 14}" fill="${a > 0.6 ? "#fff" : "#1d2433"}">${r.good}</text></g>`;
    });
  });
  svgH.innerHTML = hm;
  // Alerts.
  const active = [...alerts.values()].filter((a) => a.active);
  const box = document.getElementById("alerts");
  box.className = active.length ? "alert" : "none";
  box.innerHTML = active.length ? active.map((a) => `<div class="active-alert" data-line="${esc(a.line)}" data-kind="${a.kind}">${esc(a.line)}: <b>${a.kind}</b> since ${new Date(a.since).toISOString()} — ${esc(a.detail)}</div>`).join("") : "none";
  if (lastEvent) document.getElementById("updated").textContent = "last update " + new Date(lastEvent).toISOString() + " (browser clock)";
}
function schedule() { if (!dirty) { dirty = true; setTimeout(render, 250); } }

async function getJSON(url) { const r = await fetch(url); if (!r.ok) throw new Error(url + ": " + r.status); return r.json(); }
async function load() {
  try { plan = await getJSON(`/api/v1/plan?site=${encodeURIComponent(SITE)}&target_gwh=${targetParam > 0 ? targetParam : 1}`); } catch (e) { plan = null; }
  const asOf = plan && plan.as_of;
  if (asOf) {
    const q = (w, from) => `/api/v1/windows?site=${encodeURIComponent(SITE)}&window=${w}&from=${from}&to=${asOf + 86400000}`;
    const y0 = localMidnight(yearOf(asOf - 1));
    for (const [w, from] of [["1h", asOf - 24 * 3600000], ["1m", asOf - 10 * 60000], ["1d", y0], ["1d", asOf - 62 * 86400000]]) {
      try { (await getJSON(q(w, from))).forEach(put); if (w === "1d") break; } catch (e) { /* a year of days over max_rows: the last 62 */ }
    }
  }
  try { (await getJSON(`/api/v1/alerts?site=${encodeURIComponent(SITE)}`)).forEach((a) => alerts.set(a.line + "|" + a.kind, a)); } catch (e) {}
  render();
  const es = new EventSource(`/api/v1/live?site=${encodeURIComponent(SITE)}`);
  es.addEventListener("window", (e) => { put(JSON.parse(e.data)); lastEvent = Date.now(); schedule(); });
  es.addEventListener("alert", (e) => { const a = JSON.parse(e.data); alerts.set(a.line + "|" + a.kind, a); lastEvent = Date.now(); schedule(); });
}
load();
</script>
</body>
</html>
"""#
}
