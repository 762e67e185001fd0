// One measured run of bench/steady-admission.ts, in its own process (a fresh heap, its own CPU count), against
// the built gateway in the `dist` directory it is given, so a baseline build of another commit runs the same.
// Plain JavaScript: under a TypeScript loader the process would carry the loader's work and memory too.
// Admits one ~200-byte reading per event-loop turn at `rate` readings/s into a real LevelBuffer (fsync, a
// 10 ms commit interval unless told) in `dir`, as the embedded broker does for devices publishing steadily, and
// prints one JSON line: CPU per reading (user + system, every thread) and the admit→durable latency.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

const { values: args } = parseArgs({ options: { dist: { type: 'string' }, dir: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' }, 'warmup-seconds': { type: 'string' }, 'commit-interval-ms': { type: 'string', default: '10' } } });
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const WARMUP_S = Number(args['warmup-seconds']);

const { LevelBuffer } = await import(`${args.dist}/src/buffer/level-buffer.js`);
const { Admission } = await import(`${args.dist}/src/admission.js`);
const { Metrics } = await import(`${args.dist}/src/core/metrics.js`);
const { compileTopicTemplate } = await import(`${args.dist}/src/normalize/topic-map.js`);
const { pino } = await import('pino');

const logger = pino({ level: 'silent' });
const buffer = new LevelBuffer({ dir: args.dir, gatewayId: 'bench', durability: 'fsync', commitIntervalMs: Number(args['commit-interval-ms']), maxCommitRecords: 5_000, sinkIds: ['kinesis'], logger });
await buffer.open();
const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/telemetry'), maxPayloadBytes: 65_536 }, new Metrics(), logger);

const DEVICES = 100;
const pad = 'x'.repeat(120);
const total = Math.round(RATE * (WARMUP_S + SECONDS));
const measuredFrom = Math.round(RATE * WARMUP_S);
const latencies = [];
let sent = 0;
let acked = 0;
let failed = 0;
let cpuAtStart = null;
let wallAtStart = 0;
let resolveDone;
const done = new Promise((resolve) => (resolveDone = resolve));
const start = performance.now();

function admitOne() {
  const n = sent++;
  const device = `d${n % DEVICES}`;
  const payload = Buffer.from(JSON.stringify({ ts: Date.now(), seq: n, t: 21.5 + (n % 7), h: 40 + (n % 11), pad }));
  const at = performance.now();
  if (n === measuredFrom) {
    cpuAtStart = process.cpuUsage();
    wallAtStart = at;
  }
  admission.admitThen({ source: 'mqtt', topic: `devices/${device}/telemetry`, payload, origin: device, receivedAt: Date.now() }, (err) => {
    if (err === null) acked += 1;
    else failed += 1;
    if (n >= measuredFrom) latencies.push(performance.now() - at);
    if (acked + failed === total) resolveDone();
  });
}

// One reading per turn: a timer when the next one is not yet due, setImmediate when the schedule is behind.
function tick() {
  if (sent >= total) return;
  const due = Math.min(total, Math.floor(((performance.now() - start) * RATE) / 1000));
  if (sent < due) {
    admitOne();
    setImmediate(tick);
  } else setTimeout(tick, 1);
}
tick();
const deadline = setTimeout(() => resolveDone(), (WARMUP_S + SECONDS) * 1000 + 30_000);
await done;
clearTimeout(deadline);
const cpu = process.cpuUsage(cpuAtStart);
const wallS = (performance.now() - wallAtStart) / 1000;
const measured = total - measuredFrom;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
const stats = buffer.stats();
await buffer.close();
console.log(JSON.stringify({
  sent,
  acked,
  failed,
  buffered: stats.buffered,
  rate: measured / wallS,
  cpuUsPerReading: (cpu.user + cpu.system) / measured,
  cpuPercent: ((cpu.user + cpu.system) / 1e6 / wallS) * 100,
  ackP50Ms: pct(50),
  ackP99Ms: pct(99),
}));
