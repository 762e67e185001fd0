/**
 * The whole alarm path, scored: device-sim injects seeded anomalies into a real gateway (aedes, LevelDB,
 * the bundled Kinesis emulator) whose detect rules are those of config/examples/anomaly-detection.yaml on
 * a time scale of 1/4 (readings every 250 ms instead of 1 s), and `device-sim audit` scores the alarms
 * against the run's ground truth, from the broker's alarm topics and from the stream.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditAlarms, type AlarmAuditResult } from '../../device-sim/audit/alarm-audit.js';
import { formatAlarmScore } from '../../device-sim/audit/format-alarms.js';
import { parseScenario } from '../../device-sim/scenario/load.js';
import { runSimulation, type SimulationSummary } from '../../device-sim/simulator.js';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const INTERVAL_MS = 250;
const RUN_MS = 24_000;
// Ten reporting intervals (the example has five): a 2-core machine running other suites can stall a
// device or the gateway for a second, which must not look like a silent tank.
const SILENCE_MS = 10 * INTERVAL_MS;

/** The example's rules, every time divided by 4 and every rate multiplied by 4; counts unchanged. */
const transforms = [
  {
    type: 'detect',
    rule: 'tank-warm',
    field: 'temperature_c',
    devices: ['tank-*'],
    severity: 'critical',
    detector: { kind: 'threshold', direction: 'above', raise: 9, clear: 7 },
    raiseHoldMs: 750,
    clearHoldMs: 1_250,
    minReraiseMs: 15_000,
  },
  {
    type: 'detect',
    rule: 'pressure-surge',
    field: 'pressure_bar',
    devices: ['tank-*'],
    severity: 'major',
    detector: { kind: 'rate', windowMs: 750, maxPerSecond: 2, direction: 'rise' },
  },
  { type: 'detect', rule: 'level-stuck', field: 'level_pct', devices: ['tank-*'], severity: 'minor', detector: { kind: 'flatline', readings: 10 } },
  { type: 'detect', rule: 'tank-silent', devices: ['tank-*'], severity: 'major', detector: { kind: 'missing', expectedIntervalMs: SILENCE_MS } },
  { type: 'detect', rule: 'flow-erratic', field: 'flow_m3_h', devices: ['tank-*'], severity: 'warning', detector: { kind: 'ewma', z: 4 }, minReraiseMs: 15_000 },
];

const ids = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `tank-${String(from + i).padStart(2, '0')}`);

/**
 * 16 tanks with the example scenario's fields; 13 of them get one kind of anomaly each (the spiked ones
 * twice), 3 none. Every episode ends by 20 s, 4 s before the run does, so each one is detected (or
 * missed) well before the end-of-run silence. Episodes start at 6 s or later: the EWMA learns for 20
 * readings (5 s) before it judges.
 */
const scenario = parseScenario({
  name: 'alarms-scored',
  run: { duration: `${RUN_MS}ms`, seed: 23 },
  transport: { mqtt: { qos: 1, connections: 4 } },
  profiles: {
    tank: {
      fields: {
        temperature_c: { type: 'randomWalk', start: 4, step: 0.2, reversion: 0.1, round: 2 },
        pressure_bar: { type: 'randomWalk', start: 2.5, step: 0.02, reversion: 0.1, round: 3 },
        level_pct: { type: 'randomWalk', start: 60, step: 1, reversion: 0.01, round: 2 },
        flow_m3_h: { type: 'randomWalk', start: 12, step: 0.3, reversion: 1, round: 3 },
      },
    },
  },
  fleets: [{ name: 'tanks', id: 'tank-{i:02}', count: 16, profile: 'tank', interval: `${INTERVAL_MS}ms`, jitter: '5%' }],
  anomalies: [
    { kind: 'step', devices: ids(1, 3), field: 'temperature_c', within: ['6s', '14s'], duration: '6s', magnitude: 8 },
    { kind: 'spike', devices: ids(4, 6), field: 'pressure_bar', within: ['6s', '20s'], count: 2, magnitude: [2.5, 4] },
    { kind: 'stuck', devices: ids(7, 9), field: 'level_pct', within: ['6s', '14s'], duration: '6s' },
    { kind: 'dropout', devices: ids(10, 11), within: ['6s', '14s'], duration: '6s' },
    { kind: 'noise', devices: ids(12, 13), field: 'flow_m3_h', within: ['6s', '14s'], duration: '6s', magnitude: 1.5 },
  ],
});

const KINDS = ['dropout', 'noise', 'spike', 'step', 'stuck'];
// Stated bounds. Every injected episode is far outside the normal range of its field, so each kind must be
// detected every time; the normal walks never reach a rule's level, so any false positive is a fault
// (0.95 of 16 raises allows none). One rule per field and the hold and re-raise times: no flaps.
const MIN_RECALL_PER_KIND = 1;
const MIN_PRECISION = 0.95;

describe('alarms scored against injected anomalies: device-sim -> tidegate detect rules -> audit', () => {
  const temp = { dir: '', cleanup: async () => {} };
  let gateway: Gateway | undefined;
  let summary: SimulationSummary;
  let fromMqtt: AlarmAuditResult;
  let truthFile: string;

  beforeAll(async () => {
    Object.assign(temp, await makeTempDir('alarms-scored-'));
    truthFile = path.join(temp.dir, 'truth.jsonl');
    const started = await startTestGateway(temp.dir, {
      pipeline: { tickMs: INTERVAL_MS }, // the example's tick is its reporting interval
      alarms: { notify: { enabled: true, topicPrefix: 'tidegate/alarms', qos: 1 } },
      transforms,
    });
    gateway = started.gateway;

    // The listener is subscribed before the first reading and stops when the run is over: from then on
    // every tank is silent and tank-silent raises for each of them SILENCE_MS later, which is the end of
    // the run, not an anomaly. The listen time is only a ceiling.
    const stop = new AbortController();
    let subscribed!: () => void;
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    const listening = auditAlarms({ from: 'mqtt', url: started.mqttUrl, truth: truthFile, listenMs: RUN_MS + 30_000, signal: stop.signal, onSubscribed: () => subscribed() });
    await Promise.race([ready, listening.then(() => Promise.reject(new Error('the alarm listener stopped before it subscribed')))]);
    try {
      summary = await runSimulation({ url: started.mqttUrl, truthFile, scenario });
    } finally {
      stop.abort();
    }
    fromMqtt = await listening;
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    await temp.cleanup();
  });

  it('detects every injected episode of every kind, with no false positive and no flap (alarms from the broker)', () => {
    expect(summary).toMatchObject({ failed: 0 });
    expect(summary.acked).toBe(summary.sent);
    expect(summary.anomalies).toMatchObject({ episodes: 16, byKind: { step: 3, spike: 6, stuck: 3, dropout: 2, noise: 2 } });

    const s = fromMqtt;
    const why = `\n${formatAlarmScore(s)}\nmissed: ${JSON.stringify(s.missed)}\nfalse positives: ${JSON.stringify(s.falsePositiveRaises)}`;
    process.stdout.write(`alarms-scored (mqtt): ${JSON.stringify({ precision: s.precision, recall: s.recall, raises: s.raises, falsePositives: s.falsePositives, flaps: s.flaps, latencyMs: s.latencyMs, byKind: s.byKind })}\n`);
    expect(s.episodes, why).toBe(16);
    expect(Object.keys(s.byKind).sort(), why).toEqual(KINDS);
    for (const kind of KINDS) {
      const k = s.byKind[kind as keyof typeof s.byKind]!;
      expect(k.recall, `recall of ${kind}${why}`).toBeGreaterThanOrEqual(MIN_RECALL_PER_KIND);
      expect(k.flapsPerEpisode, `flaps per ${kind} episode${why}`).toBe(0);
    }
    expect(s.precision, why).toBeGreaterThanOrEqual(MIN_PRECISION);
    expect(s.flaps, why).toBe(0);
    expect(s.maxFlaps, why).toBe(0);
    // Each raise was seen once: a redelivered raise would mean the notifier published a transition twice.
    expect(s.alarms.malformed, why).toBe(0);
  });

  it('delivers the same detections to the stream, whose only false positives are the end-of-run silences', async () => {
    const endpoint = gateway!.kinesisEndpoint!;
    const stream = gateway!.config.kinesis.streamName;
    // A 2 s tolerance (every detection here comes within its episode): the end-of-run silence raises, 4 s
    // or more after the last episode, then count as false positives rather than as flaps of it.
    // waitMs polls the stream while some episode is still undetected (the gateway forwards in batches).
    const s = await auditAlarms({ from: 'stream', truth: truthFile, report: summary, target: { endpoint, region: 'us-east-1', stream }, toleranceMs: 2_000, waitMs: 20_000, pollMs: 250 });
    const why = `\n${formatAlarmScore(s)}\nmissed: ${JSON.stringify(s.missed)}\nfalse positives: ${JSON.stringify(s.falsePositiveRaises)}`;
    process.stdout.write(`alarms-scored (stream): ${JSON.stringify({ precision: s.precision, recall: s.recall, raises: s.raises, falsePositives: s.falsePositives, flaps: s.flaps })}\n`);
    for (const kind of KINDS) expect(s.byKind[kind as keyof typeof s.byKind]!.recall, `recall of ${kind}${why}`).toBeGreaterThanOrEqual(MIN_RECALL_PER_KIND);
    expect(s.flaps, why).toBe(0);
    expect(s.matchedRaises, why).toBe(fromMqtt.matchedRaises);
    const lastReading = Date.parse(summary.startedAt) + summary.durationMs - 2 * INTERVAL_MS;
    for (const fp of s.falsePositiveRaises) {
      expect(fp.rule, why).toBe('tank-silent');
      expect(fp.at, why).toBeGreaterThan(lastReading);
    }
    expect(s.falsePositives, why).toBeLessThanOrEqual(16); // at most one silence per tank
  }, 40_000);
});
