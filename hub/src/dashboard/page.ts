// The dashboard's HTML shell and stylesheet: one page, everything served by the hub itself,
// readable at phone width. Kept as strings so `tsc` ships them inside dist.

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>edgefleet — fleet health</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<div id="app"><noscript>The edgefleet dashboard needs JavaScript.</noscript></div>
</body>
</html>
`;

export const APP_CSS = `
:root {
  --bg: #f5f6f8; --card: #fff; --ink: #1d232b; --muted: #5f6b7a; --line: #dfe3e8; --accent: #2457c5;
  --ok: #1f7a3f; --ok-bg: #e3f4e8; --warn: #8a5a00; --warn-bg: #fff1d6; --bad: #b3261e; --bad-bg: #fde7e5;
  --s1: #2457c5; --s2: #d9480f; --s3: #7b2cbf; --s4: #b3261e; --s5: #2b8a3e; --s6: #0b7285;
  --thr: #1d232b; --drift: #b3261e; --drift-dark: #6e120d;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; background: var(--bg); color: var(--ink); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
button, input, select { font: inherit; }
button { border: 1px solid var(--line); background: #fff; border-radius: 6px; padding: 6px 12px; cursor: pointer; color: var(--ink); }
button:hover:not([disabled]) { border-color: var(--accent); }
button[disabled] { opacity: .45; cursor: default; }
button.linkish { border: 0; background: none; color: #cfd8e6; padding: 4px 6px; }
button.danger { color: var(--bad); border-color: #f0b8b3; }
input, select { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; background: #fff; color: var(--ink); min-width: 0; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 18px; padding: 10px 16px; background: #1d2733; color: #fff; position: sticky; top: 0; z-index: 2; }
header .brand { color: #fff; font-weight: 700; letter-spacing: .02em; font-size: 17px; }
.nav { display: flex; flex-wrap: wrap; gap: 4px 14px; flex: 1; }
.nav a { color: #cfd8e6; padding: 2px 0; border-bottom: 2px solid transparent; }
.nav a.current { color: #fff; border-bottom-color: #7aa2ff; }
.who { display: flex; align-items: center; gap: 6px; }
main { padding: 14px; max-width: 1500px; margin: 0 auto; }
footer { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 6px; padding: 10px 16px 24px; color: var(--muted); font-size: 13px; max-width: 1500px; margin: 0 auto; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin-bottom: 14px; min-width: 0; }
.card h2 { font-size: 16px; margin: 0 0 10px; }
.card h3 { font-size: 14px; margin: 10px 0 6px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 0 14px; align-items: start; }
.compare { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); gap: 0 14px; align-items: start; }
.stats { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 8px; }
.stat { display: flex; flex-direction: column; align-items: flex-start; padding: 10px; border-radius: 8px; background: #f1f3f6; color: var(--ink); }
.stat .num { font-size: 30px; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
.stat .lbl { color: var(--muted); font-size: 13px; }
.stat.ok .num { color: var(--ok); } .stat.warn .num { color: var(--warn); } .stat.bad .num { color: var(--bad); }
@media (max-width: 520px) { .stats { grid-template-columns: repeat(2, minmax(0, 1fr)); } main { padding: 8px; } .card { padding: 12px; } .nav { order: 3; flex-basis: 100%; } }
@media (max-width: 520px) {
  table.cards thead { display: none; }
  table.cards, table.cards tbody, table.cards tr, table.cards td { display: block; width: 100%; }
  table.cards tr { border: 1px solid var(--line); border-radius: 8px; margin-bottom: 8px; padding: 4px 0; }
  table.cards td { display: flex; justify-content: space-between; gap: 12px; border-bottom: 0; padding: 3px 10px; overflow-wrap: anywhere; }
  table.cards td::before { content: attr(data-label); color: var(--muted); font-size: 13px; white-space: nowrap; }
}
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 13px; white-space: nowrap; }
td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
td.metrics { min-width: 160px; }
.muted { color: var(--muted); } .small { font-size: 13px; }
.warn { color: var(--warn); } .bad { color: var(--bad); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #eceff3; color: #36404c; white-space: nowrap; }
.badge.ok, .badge.online, .badge.status-completed, .badge.state-active, .badge.wave-passed { background: var(--ok-bg); color: var(--ok); }
.badge.bad, .badge.status-rolled-back, .badge.status-aborted, .badge.state-failed, .badge.state-rolled-back, .badge.wave-failed { background: var(--bad-bg); color: var(--bad); }
.badge.warn, .badge.offline, .badge.status-paused, .badge.state-downloading, .badge.state-probation, .badge.wave-soaking, .badge.wave-no-evidence { background: var(--warn-bg); color: var(--warn); }
.badge.status-active, .badge.status-running, .badge.status-soaking, .badge.wave-rolling, .badge.role { background: #e3ebff; color: var(--accent); }
.badge.muted { background: #f1f3f6; color: var(--muted); }
.chip { display: inline-block; margin: 0 4px 3px 0; padding: 0 6px; border: 1px solid var(--line); border-radius: 4px; font-size: 12.5px; white-space: nowrap; }
.progress { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
.progress .bar { flex: 1; height: 10px; background: #e7eaee; border-radius: 5px; overflow: hidden; min-width: 60px; }
.progress .fill { height: 100%; background: var(--accent); transition: width .4s; }
/* feature importance on the model page (client/importance.ts): feature — bar — share */
.importance-list { list-style: none; padding: 0; margin: 4px 0 10px; max-width: 640px; }
.importance-row { display: grid; grid-template-columns: minmax(8em, 16em) 1fr 3.5em; gap: 8px; align-items: center; font-size: 13px; }
.importance-row .feature { overflow-wrap: anywhere; }
.importance-row .bar { height: 10px; background: #e7eaee; border-radius: 5px; overflow: hidden; min-width: 60px; }
.importance-row .fill { display: block; height: 100%; background: var(--accent); }
.importance-row .share { text-align: right; font-variant-numeric: tabular-nums; }
.progress-text { font-size: 13px; color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
.version-row { display: grid; grid-template-columns: minmax(60px, max-content) 1fr; gap: 10px; align-items: center; }
.version-row .v { font-family: ui-monospace, monospace; font-size: 13px; }
.model-versions h3 { margin-top: 4px; }
.rollout { border-top: 1px solid var(--line); padding: 8px 0; }
.rollout:first-of-type { border-top: 0; }
.rollout-bad .rollout-reason { margin: 4px 0 0; font-weight: 600; }
.overview .card-health, .overview .card-events, .overview .card-verdict { grid-column: 1 / -1; }
.card-verdict.verdict-failing { border-color: var(--bad); background: var(--bad-bg); } .card-verdict.verdict-degraded { border-color: #e8c77a; background: var(--warn-bg); }
.card-verdict.verdict-healthy h2 { color: var(--ok); } .card-verdict.verdict-failing h2 { color: var(--bad); } .card-verdict.verdict-degraded h2 { color: var(--warn); }
.verdict-reasons { margin: 0; padding-left: 18px; font-weight: 600; }
.rollout-head, .wave-head { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; }
.wave { margin: 6px 0 10px; }
.events { list-style: none; margin: 0; padding: 0; }
.events li { padding: 5px 0; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: baseline; font-size: 14px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 12px; }
.action-status { color: var(--muted); font-size: 14px; }
.enrol-url { flex: 1; min-width: min(100%, 22em); }
.enrol-qr { display: block; max-width: 100%; height: auto; margin-bottom: 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0 0 8px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; margin-bottom: 10px; }
form.filters label { display: flex; flex-direction: column; font-size: 12.5px; color: var(--muted); gap: 2px; flex: 1 1 130px; }
form.filters button { flex: 0 0 auto; }
.pager { display: flex; gap: 10px; align-items: center; justify-content: space-between; margin: 6px 0; flex-wrap: wrap; }
.page-info { color: var(--muted); font-size: 14px; font-variant-numeric: tabular-nums; }
.range-picker { display: inline-flex; gap: 6px; align-items: center; margin: 8px 0; color: var(--muted); font-size: 14px; }
.range-controls { display: inline-flex; flex-wrap: wrap; gap: 0 16px; }
.signin-page { display: flex; justify-content: center; padding-top: 10vh; }
form.signin { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 22px; width: min(420px, 100%); display: flex; flex-direction: column; gap: 10px; }
form.signin h1 { margin: 0; font-size: 22px; }
form.signin p { margin: 0; color: var(--muted); }
form.signin button { background: var(--accent); color: #fff; border-color: var(--accent); padding: 8px; }
.form-status { min-height: 1.4em; }
figure.chart-box { margin: 10px 0 16px; }
figure.chart-box figcaption { font-weight: 600; font-size: 14px; margin-bottom: 2px; }
svg.chart { width: 100%; height: auto; display: block; overflow: visible; }
svg.chart .grid { stroke: #edf0f3; stroke-width: 1; }
svg.chart .baseline, svg.chart .tickmark { stroke: #9aa5b1; stroke-width: 1; }
svg.chart .tick { fill: #56606c; font-size: 12px; }
svg.chart .axis-label { fill: #3b444f; font-size: 12.5px; font-weight: 600; }
svg.chart .no-data { fill: var(--muted); font-size: 14px; }
svg.chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .axis-span { fill: #56606c; font-size: 12px; }
/* thresholds: near-black dashes over a white halo, apart from every series and bar colour */
svg.chart .threshold { stroke: var(--thr); stroke-width: 2; stroke-dasharray: 6 4; fill: none; }
svg.chart .threshold-halo { stroke: #fff; stroke-width: 4.5; fill: none; opacity: .85; }
svg.chart .threshold-label { fill: var(--thr); font-size: 12px; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg.chart .band { stroke: none; opacity: .16; }
/* drifted bars: red, hatched and labelled (not colour alone); stable ones blue */
svg.chart .bar.flagged { stroke: var(--drift-dark); stroke-width: 1.5; }
svg.chart .hatch-fill.drifted { fill: var(--drift); } svg.chart .hatch-line { stroke: var(--drift-dark); stroke-width: 2.5; }
svg.chart .flag-mark { fill: var(--drift); font-size: 11px; font-weight: 700; }
svg.chart .series.drifted { stroke-width: 3.5; }
svg.chart .tick.category { fill: #3b444f; }
.s1 { stroke: var(--s1); fill: var(--s1); } .s2 { stroke: var(--s2); fill: var(--s2); } .s3 { stroke: var(--s3); fill: var(--s3); }
.s4 { stroke: var(--s4); fill: var(--s4); } .s5 { stroke: var(--s5); fill: var(--s5); } .s6 { stroke: var(--s6); fill: var(--s6); }
svg.chart path.series { fill: none; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; color: #3b444f; }
.legend .key i { display: inline-block; width: 14px; height: 3px; margin-right: 5px; vertical-align: middle; background: currentColor; }
.legend .key { color: #3b444f; }
.legend .key.s1 i { background: var(--s1); } .legend .key.s2 i { background: var(--s2); } .legend .key.s3 i { background: var(--s3); }
.legend .key.s4 i { background: var(--s4); } .legend .key.s5 i { background: var(--s5); } .legend .key.s6 i { background: var(--s6); }
.legend .key.threshold i { background: none; border-top: 2px dashed var(--thr); height: 0; }
.legend .key.flagged.drifted i { height: 10px; background: repeating-linear-gradient(45deg, var(--drift) 0 3px, var(--drift-dark) 3px 5px); }
.legend .key.stable i { height: 10px; }
.legend .key.band i { height: 9px; opacity: .3; }
.chart-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: 0 18px; align-items: start; }
.chart-grid > dl, .chart-grid > .table-wrap { grid-column: 1 / -1; }
.chart-note { margin: 4px 0 0; font-size: 13px; color: var(--muted); }
table.drift td:last-child { white-space: nowrap; }
.live { font-variant-numeric: tabular-nums; }
.rollout-page .card-outcome, .rollout-page .card-progress { grid-column: 1 / -1; }
.card-outcome.outcome-rolled-back, .card-outcome.outcome-aborted { border-color: var(--bad); background: var(--bad-bg); }
.card-outcome.outcome-paused { border-color: #e8c77a; background: var(--warn-bg); }
.card-outcome h2.bad { color: var(--bad); } .card-outcome h2.warn { color: var(--warn); } .card-outcome h2.ok { color: var(--ok); }
.card-outcome p, .card-outcome ul { margin: 4px 0; } .outcome-reason { font-weight: 600; }
.soak-left, .max-soak-left { font-variant-numeric: tabular-nums; font-weight: 600; }
.gate-note { margin: 6px 0 2px; }
table.gates td.gate-detail { color: var(--muted); min-width: 16em; }
.actions button.action { text-align: left; max-width: 100%; white-space: normal; }
/* health by tag (groups.ts), the drift column and the event severity filter */
.group-picker { margin-right: 16px; }
.group-tables .groups, .version-col .groups { margin: 6px 0 12px; }
.groups h3 { font-size: 14px; margin: 8px 0 4px; }
tr.group-row.drifted td.group-value { font-weight: 700; color: var(--bad); }
.drift-cell.bad { font-weight: 600; }
td.drift .device-drift { display: block; }
.event-filters { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
.event-filters button { padding: 3px 10px; font-size: 13px; }
.event-filters button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: #fff; }
.events li.event-group .badge { font-variant-numeric: tabular-nums; }
`;
