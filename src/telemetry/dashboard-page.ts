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
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b2733; background: #f6f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; } h2 { font-size: 1rem; margin: 0 0 .5rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
  .card { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; padding: 1rem; }
  .big { font-size: 1.6rem; font-weight: 600; } .muted { color: #57606a; }
  .ok { color: #1a7f37; } .degraded { color: #cf222e; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .15rem .4rem; border-bottom: 1px solid #eee; }
  canvas { width: 100%; height: 140px; }
</style>
</head>
<body>
<h1>tidegate <span id="gateway" class="muted"></span> <span id="health"></span></h1>
<div class="grid">
  <div class="card"><h2>Readings per second</h2><div><span class="big" id="rateIn">–</span> in · <span class="big" id="rateOut">–</span> out</div><canvas id="rates" width="640" height="280"></canvas></div>
  <div class="card"><h2>Buffer</h2><div><span class="big" id="buffered">–</span> readings, <span id="bufferUse">–</span> of the budget; oldest waiting <span id="oldest">–</span></div><canvas id="depth" width="640" height="280"></canvas></div>
  <div class="card"><h2>Kinesis</h2><table id="kinesis"></table></div>
  <div class="card"><h2>Shards</h2><table id="shards"></table></div>
  <div class="card"><h2>Dead letters and drops</h2><table id="rejects"></table></div>
  <div class="card"><h2>Ledger</h2><table id="ledger"></table></div>
  <div class="card"><h2>Devices <span id="deviceCount" class="muted"></span></h2><table id="devices"></table></div>
</div>
<script>
const history = { t: [], in: [], out: [], depth: [] };
let previous = null;
const $ = (id) => document.getElementById(id);
const fmt = (n) => Number(n).toLocaleString('en-US', { maximumFractionDigits: 1 });
function rows(table, pairs) {
  table.innerHTML = pairs.length ? pairs.map(([k, v]) => '<tr><td>' + k + '</td><td>' + v + '</td></tr>').join('') : '<tr><td class="muted">none</td></tr>';
}
function draw(canvas, series, colors) {
  const ctx = canvas.getContext('2d'); const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const max = Math.max(1, ...series.flat());
  ctx.fillStyle = '#57606a'; ctx.font = '20px system-ui'; ctx.fillText(fmt(max), 4, 20);
  series.forEach((values, i) => {
    ctx.strokeStyle = colors[i]; ctx.lineWidth = 3; ctx.beginPath();
    values.forEach((v, x) => { const px = (x / Math.max(1, values.length - 1)) * w, py = h - (v / max) * (h - 24); x ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
    ctx.stroke();
  });
}
function render(s) {
  $('gateway').textContent = s.gatewayId;
  $('health').textContent = s.health.status + (s.health.reasons.length ? ': ' + s.health.reasons.join('; ') : '');
  $('health').className = s.health.status;
  if (previous) {
    const dt = (s.t - previous.t) / 1000 || 1;
    const rateIn = Math.max(0, (s.ledger.received - previous.ledger.received) / dt), rateOut = Math.max(0, (s.ledger.delivered - previous.ledger.delivered) / dt);
    $('rateIn').textContent = fmt(rateIn); $('rateOut').textContent = fmt(rateOut);
    history.in.push(rateIn); history.out.push(rateOut);
  }
  history.depth.push(s.ledger.buffered);
  for (const k of ['in', 'out', 'depth']) if (history[k].length > 120) history[k].shift();
  draw($('rates'), [history.in, history.out], ['#0969da', '#1a7f37']);
  draw($('depth'), [history.depth], ['#bf8700']);
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
  previous = s;
}
new EventSource('/events').onmessage = (e) => render(JSON.parse(e.data));
</script>
</body>
</html>
`;
