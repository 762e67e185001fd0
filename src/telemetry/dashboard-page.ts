/**
 * The live dashboard: one self-contained page (no build step, nothing fetched from the internet) that
 * follows `/events` (server-sent events, one snapshot a second) and draws rates and buffer depth on canvases.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tidegate</title>
<style>
  /* Sized for 1,280 px screens and narrower: no fixed minimum wider than the viewport, tables that wrap instead of overflowing. */
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem; color: #1b2733; background: #f6f8fa; overflow-wrap: anywhere; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; } h2 { font-size: 1rem; margin: 0 0 .5rem; }
  /* dense: a card too wide for the rest of a row waits for the next row, and smaller cards fill the gap it leaves. */
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 300px), 1fr)); grid-auto-flow: dense; gap: 1rem; }
  .card { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; padding: 1rem; min-width: 0; }
  .wide { grid-column: 1 / -1; }
  /* Charts take two columns once there are two (a span on a one-column grid would add a column and overflow). */
  @media (min-width: 680px) { .chart { grid-column: span 2; } }
  .big { font-size: 1.6rem; font-weight: 600; } .muted { color: #57606a; }
  .ok { color: #1a7f37; } .degraded { color: #cf222e; }
  table { border-collapse: collapse; width: 100%; table-layout: fixed; font-variant-numeric: tabular-nums; }
  td, th { text-align: left; padding: .15rem .4rem; border-bottom: 1px solid #eee; vertical-align: top; }
  canvas { display: block; width: 100%; height: 140px; }
  .axis { container-type: inline-size; position: relative; height: 1.2em; font-size: 12px; color: #57606a; font-variant-numeric: tabular-nums; }
  .axis span { position: absolute; top: 0; transform: translateX(-50%); white-space: nowrap; }
  .axis span:first-child { transform: none; } .axis span:last-child { transform: translateX(-100%); }
  /* Five clock labels need about 360 px; on a narrower chart keep every other one so they never overlap. */
  @container (max-width: 360px) { .axis span:nth-child(even) { display: none; } }
</style>
</head>
<body>
<h1>tidegate <span id="gateway" class="muted"></span> <span id="health"></span></h1>
<div class="grid">
  <div class="card chart"><h2>Readings per second</h2><div><span class="big" id="rateIn">–</span> in · <span class="big" id="rateOut">–</span> out</div><canvas id="rates" width="640" height="280"></canvas><div class="axis" id="ratesAxis"></div></div>
  <div class="card chart"><h2>Buffer</h2><div><span class="big" id="buffered">–</span> readings, <span id="bufferUse">–</span> of the budget; oldest waiting <span id="oldest">–</span></div><canvas id="depth" width="640" height="280"></canvas><div class="axis" id="depthAxis"></div></div>
  <div class="card"><h2>Kinesis</h2><table id="kinesis"></table></div>
  <div class="card wide"><h2>Shards</h2><table id="shards"></table></div>
  <div class="card"><h2>Dead letters and drops</h2><table id="rejects"></table></div>
  <div class="card"><h2>Ledger</h2><table id="ledger"></table></div>
  <div class="card"><h2>Devices <span id="deviceCount" class="muted"></span></h2><table id="devices"></table></div>
  <div class="card wide"><h2>Alarms <span id="alarmCount" class="muted"></span></h2><table id="alarms"></table></div>
  <div class="card wide"><h2>Rules <span id="ruleCount" class="muted"></span></h2><table id="rules"></table></div>
</div>
<script>
// Samples are kept with their snapshot time: the x axis is time (the last two minutes), not sample index.
const WINDOW_MS = 120000, TICKS = 5;
const history = { in: [], out: [], depth: [] };
let previous = null;
const $ = (id) => document.getElementById(id);
const fmt = (n) => Number(n).toLocaleString('en-US', { maximumFractionDigits: 1 });
const clock = (t) => new Date(t).toLocaleTimeString('en-GB', { hour12: false });
function rows(table, pairs) {
  table.innerHTML = pairs.length ? pairs.map(([k, v]) => '<tr><td>' + k + '</td><td>' + v + '</td></tr>').join('') : '<tr><td class="muted">none</td></tr>';
}
function draw(canvas, axis, now, series, colors) {
  // Match the drawing surface to the displayed size, so text and lines are not stretched as the card's width changes.
  const box = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(box.width * dpr)); canvas.height = Math.max(1, Math.round(box.height * dpr));
  const ctx = canvas.getContext('2d'); const w = canvas.width, h = canvas.height;
  const start = now - WINDOW_MS, x = (t) => ((t - start) / WINDOW_MS) * w;
  const max = Math.max(1, ...series.flat().map((p) => p.v));
  // Vertical grid lines at the same instants the axis labels name.
  ctx.strokeStyle = '#eaeef2'; ctx.lineWidth = dpr;
  for (let i = 0; i < TICKS; i++) { const px = Math.round((i / (TICKS - 1)) * (w - 1)) + 0.5; ctx.beginPath(); ctx.moveTo(px, 0); ctx.lineTo(px, h); ctx.stroke(); }
  ctx.fillStyle = '#57606a'; ctx.font = 12 * dpr + 'px system-ui'; ctx.fillText(fmt(max), 4 * dpr, 14 * dpr);
  series.forEach((points, i) => {
    ctx.strokeStyle = colors[i]; ctx.lineWidth = 2 * dpr; ctx.beginPath();
    points.forEach((p, k) => { const px = x(p.t), py = h - (p.v / max) * (h - 20 * dpr); k ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
    ctx.stroke();
  });
  axis.innerHTML = Array.from({ length: TICKS }, (_, i) => '<span style="left:' + (100 * i) / (TICKS - 1) + '%">' + clock(start + (i * WINDOW_MS) / (TICKS - 1)) + '</span>').join('');
}
function render(s) {
  $('gateway').textContent = s.gatewayId;
  $('health').textContent = s.health.status + (s.health.reasons.length ? ': ' + s.health.reasons.join('; ') : '');
  $('health').className = s.health.status;
  if (previous) {
    const dt = (s.t - previous.t) / 1000 || 1;
    const rateIn = Math.max(0, (s.ledger.received - previous.ledger.received) / dt), rateOut = Math.max(0, (s.ledger.delivered - previous.ledger.delivered) / dt);
    $('rateIn').textContent = fmt(rateIn); $('rateOut').textContent = fmt(rateOut);
    history.in.push({ t: s.t, v: rateIn }); history.out.push({ t: s.t, v: rateOut });
  }
  history.depth.push({ t: s.t, v: s.ledger.buffered });
  for (const k of ['in', 'out', 'depth']) while (history[k].length && history[k][0].t < s.t - WINDOW_MS) history[k].shift();
  draw($('rates'), $('ratesAxis'), s.t, [history.in, history.out], ['#0969da', '#1a7f37']);
  draw($('depth'), $('depthAxis'), s.t, [history.depth], ['#bf8700']);
  $('buffered').textContent = fmt(s.ledger.buffered);
  $('bufferUse').textContent = fmt((100 * s.ledger.bufferedBytes) / s.ledger.maxBytes) + '%';
  $('oldest').textContent = s.oldestUndeliveredAgeMs === null ? 'nothing' : fmt(s.oldestUndeliveredAgeMs / 1000) + ' s';
  const shardRate = (id, field) => previous && previous.kinesis.shards[id] ? Math.max(0, (s.kinesis.shards[id][field] - previous.kinesis.shards[id][field]) / (((s.t - previous.t) / 1000) || 1)) : 0;
  $('shards').innerHTML = '<tr><th>shard</th><th>records/s</th><th>KiB/s</th><th>readings/s</th><th>throttled</th><th>pacing</th></tr>' + Object.entries(s.kinesis.shards).map(([id, r]) =>
    '<tr><td>' + id + '</td><td>' + fmt(shardRate(id, 'records')) + '</td><td>' + fmt(shardRate(id, 'bytes') / 1024) + '</td><td>' + fmt(shardRate(id, 'readings')) + '</td><td>' + fmt(r.throttles) + '</td><td>' + (r.pacingShare === null ? 'off' : fmt(100 * r.pacingShare) + '%') + '</td></tr>').join('');
  rows($('kinesis'), [['calls', fmt(s.kinesis.calls)], ['records', fmt(s.kinesis.records)], ['readings per record', s.kinesis.records ? fmt(s.kinesis.readingsDelivered / s.kinesis.records) : '–'], ['clock offset to AWS', fmt(s.kinesis.clockOffsetSeconds) + ' s'], ...Object.entries(s.kinesis.callFailures).map(([c, n]) => ['failed calls: ' + c, fmt(n)]), ...Object.entries(s.kinesis.entryFailures).map(([c, n]) => ['refused entries: ' + c, fmt(n)])]);
  rows($('rejects'), [...Object.entries(s.ledger.deadLettered).map(([r, n]) => ['dead letter: ' + r, fmt(n)]), ...Object.entries(s.ledger.dropped).map(([r, n]) => ['dropped: ' + r, fmt(n)])]);
  rows($('ledger'), [['received', fmt(s.ledger.received)], ['delivered', fmt(s.ledger.delivered)], ['buffered', fmt(s.ledger.buffered)], ['balanced', s.conservationGap === 0 ? 'yes' : 'off by ' + s.conservationGap]]);
  $('deviceCount').textContent = '(' + s.devices.known + ' seen)';
  $('devices').innerHTML = '<tr><th>device</th><th>last seen</th><th>readings</th></tr>' + s.devices.recent.map((d) => '<tr><td>' + d.deviceId.replace(/[<>&]/g, '') + '</td><td>' + fmt((s.t - d.lastSeen) / 1000) + ' s ago</td><td>' + fmt(d.count) + '</td></tr>').join('');
  // Text from devices and rule names is escaped before it becomes markup.
  const esc = (t) => String(t).replace(/[<>&"]/g, '');
  const alarms = s.alarms || [];
  $('alarmCount').textContent = '(' + alarms.length + ' raised or shelved)';
  $('alarms').innerHTML = alarms.length ? '<tr><th>rule</th><th>device</th><th>state</th><th>severity</th><th>value</th><th>threshold</th><th>raised</th></tr>' + alarms.map((a) =>
    '<tr><td>' + esc(a.rule) + '</td><td>' + esc(a.deviceId) + '</td><td>' + esc(a.state) + (a.shelvedUntil ? ' (shelved until ' + clock(a.shelvedUntil) + ')' : '') + '</td><td>' + esc(a.severity) + '</td><td>' + fmt(a.value) + '</td><td>' + fmt(a.threshold) + '</td><td>' + (a.raisedAt ? fmt((s.t - a.raisedAt) / 1000) + ' s ago' : '–') + '</td></tr>').join('') : '<tr><td class="muted">none</td></tr>';
  const rules = s.rules || [];
  $('ruleCount').textContent = '(' + rules.length + ' configured)';
  $('rules').innerHTML = rules.length ? '<tr><th>rule</th><th>matched</th><th>filtered</th><th>consumed</th><th>produced</th><th>µs per reading</th></tr>' + rules.map((r) =>
    '<tr><td>' + esc(r.rule) + '</td><td>' + fmt(r.matched) + '</td><td>' + fmt(r.filtered) + (r.deadLettered ? ' (+' + fmt(r.deadLettered) + ' dead letters)' : '') + '</td><td>' + fmt(r.consumed) + '</td><td>' + fmt(r.produced) + '</td><td>' + (r.evalMicros === null ? '–' : fmt(r.evalMicros)) + '</td></tr>').join('') : '<tr><td class="muted">none</td></tr>';
  previous = s;
}
new EventSource('/events').onmessage = (e) => render(JSON.parse(e.data));
</script>
</body>
</html>
`;
