/**
 * Serial benchmark: JSON lines written into one end of a socat pty pair by a separate process, read at the
 * other end (a) by a bare serialport + ReadlineParser (the raw pty ceiling), (b) by tidegate's serial source
 * into the LevelDB buffer with no sink traffic, and (c) end to end, through the buffer to the Kinesis emulator
 * in its own process (counted when visible in the stream). The emulator's own PutRecords ceiling, measured in
 * the same run, is shown too: it bounds (c). Every phase is bounded by a deadline.
 * Usage: npx tsx bench/serial.ts [--lines 50000] [--rounds 1]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ReadlineParser, SerialPort } from 'serialport';
import { validateConfig } from '../src/config/load.js';
import { Gateway } from '../src/gateway.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { jsonField, repoRoot, spawnNode } from './processes.js';
import { putRecordsCeiling, StreamWatch } from './stream-watch.js';
import { startPtyPair } from '../test/helpers/device-sim-pty.js';

const { values: args } = parseArgs({ options: { lines: { type: 'string', default: '50000' }, rounds: { type: 'string', default: '1' } } });
const LINES = Number(args.lines);
const ROUNDS = Number(args.rounds);
const PHASE_DEADLINE_MS = 180_000;
const STREAM = 'serial-bench';

/**
 * Starts the writer process and waits until it has opened its port; `go()` starts the writing (the moment
 * every measurement counts from) and resolves with the writer's report; `stop()` ends the process.
 */
async function startWriter(ttyPath: string, count: number): Promise<{ go(): Promise<{ written: number; ms: number }>; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/serial-writer.ts', ttyPath, String(count)], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const timer = setTimeout(() => child.kill('SIGKILL'), PHASE_DEADLINE_MS);
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // Registered before any reader of `out`, so every reader sees the chunk already appended.
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lineWith = (key: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const line = out.split('\n').find((l) => l.includes(key));
        if (line) resolve(line);
      };
      child.stdout.on('data', check);
      check();
      void exited.then(() => reject(new Error(`writer exited before reporting ${key}: ${err}`)));
    });
  await lineWith('"ready"');
  return {
    go: async () => {
      child.stdin.write('go\n');
      return JSON.parse(await lineWith('"written"')) as { written: number; ms: number };
    },
    stop: async () => {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** (a) Raw: a bare serialport + ReadlineParser reads the lines; lines/s from the first line to the last. */
async function rawRound(dir: string): Promise<number> {
  const pty = await startPtyPair(dir);
  const port = new SerialPort({ path: pty.b, baudRate: 115_200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  let seen = 0;
  const writer = await startWriter(pty.a, LINES);
  const started = performance.now();
  const done = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`raw: ${seen} of ${LINES} lines within the deadline`)), PHASE_DEADLINE_MS);
    port.pipe(new ReadlineParser({ delimiter: '\n' })).on('data', () => {
      if (++seen === LINES) {
        clearTimeout(timer);
        resolve(LINES / ((performance.now() - started) / 1000));
      }
    });
  });
  const wrote = writer.go();
  const rate = await done;
  await wrote;
  await writer.stop();
  await new Promise<void>((resolve) => port.close(() => resolve()));
  await pty.close();
  return rate;
}

/**
 * (b) End to end: the gateway's serial source → buffer (fsync) → the emulator in its own process (so it does not
 * share a core with the gateway); lines/s until the last line is durable, and until it is visible in the stream.
 * The emulator's own PutRecords ceiling is measured first, into another stream of the same emulator.
 */
async function gatewayRound(dir: string): Promise<{ buffered: number; e2e: number; ceiling: number }> {
  const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
  const pty = await startPtyPair(dir);
  let gateway: Gateway | undefined;
  try {
    const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
    const client = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });
    await ensureStream(client, 'ceiling', 4, AbortSignal.timeout(10_000));
    const ceiling = await putRecordsCeiling(client, 'ceiling', LINES, 150, 20);
    await ensureStream(client, STREAM, 4, AbortSignal.timeout(10_000));
    process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
    const config = validateConfig(
      {
        gatewayId: 'bench',
        dataDir: path.join(dir, 'data'),
        log: { level: 'warn' },
        mqtt: { listeners: [{ host: '127.0.0.1', port: 0 }] },
        status: { enabled: false },
        kinesis: { endpoint, region: LOCAL_REGION, streamName: STREAM },
        serial: [{ path: pty.b, name: 'bench', framing: 'jsonl' }],
        ...(process.env.BENCH_DURABILITY ? { buffer: { durability: process.env.BENCH_DURABILITY } } : {}),
      },
      'bench config',
    );
    gateway = await Gateway.start(config, pino({ level: 'warn' }));
    const gw = gateway;
    const watch = new StreamWatch(client, STREAM);
    await watch.init();
    const writer = await startWriter(pty.a, LINES);
    const started = Date.now();
    let bufferedAt = 0;
    const poll = setInterval(() => {
      if (!bufferedAt && gw.bufferStats().received >= LINES) bufferedAt = Date.now();
    }, 5);
    const wrote = writer.go();
    const reached = await watch.until(LINES, PHASE_DEADLINE_MS, 50);
    clearInterval(poll);
    await wrote;
    await writer.stop();
    if (reached === null || !bufferedAt) throw new Error(`end to end: ${watch.count} of ${LINES} lines visible within the deadline`);
    return { buffered: LINES / ((bufferedAt - started) / 1000), e2e: LINES / ((reached - started) / 1000), ceiling };
  } finally {
    await gateway?.stop(AbortSignal.timeout(15_000));
    await pty.close();
    await emulator.stop();
  }
}

/**
 * (c) The serial source and the buffer alone: the same path with the sink pointed at a closed port (it backs
 * off and sends nothing), so what is measured is pty → parse → durable commit, without the sink's reads of
 * the buffer and its calls competing on the same two cores.
 */
async function intakeRound(dir: string): Promise<number> {
  const pty = await startPtyPair(dir);
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
  const config = validateConfig(
    {
      gatewayId: 'bench',
      dataDir: path.join(dir, 'intake-data'),
      log: { level: 'error' },
      mqtt: { listeners: [{ host: '127.0.0.1', port: 0 }] },
      status: { enabled: false },
      // Port 9 (discard) on loopback: nothing listens, every call fails at once and the sink backs off.
      kinesis: { endpoint: 'http://127.0.0.1:9', region: LOCAL_REGION, streamName: STREAM, retry: { baseDelayMs: 5_000, maxDelayMs: 30_000 } },
      serial: [{ path: pty.b, name: 'bench', framing: 'jsonl' }],
    },
    'bench config',
  );
  const gateway = await Gateway.start(config, pino({ level: 'error' }));
  try {
    const writer = await startWriter(pty.a, LINES);
    const started = Date.now();
    const wrote = writer.go();
    const deadline = started + PHASE_DEADLINE_MS;
    while (gateway.bufferStats().received < LINES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await wrote;
    await writer.stop();
    if (gateway.bufferStats().received < LINES) throw new Error(`intake: ${gateway.bufferStats().received} of ${LINES} lines within the deadline`);
    return LINES / ((Date.now() - started) / 1000);
  } finally {
    await gateway.stop(AbortSignal.timeout(15_000));
    await pty.close();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: { raw: number; intake: number; buffered: number; e2e: number; ceiling: number }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-serial-bench-'));
  try {
    const raw = await rawRound(dir);
    const intake = await intakeRound(dir);
    const { buffered, e2e, ceiling } = await gatewayRound(dir);
    rows.push({ raw, intake, buffered, e2e, ceiling });
    console.error(`round ${r + 1}: raw ${Math.round(raw)} lines/s, intake alone ${Math.round(intake)} lines/s, buffered ${Math.round(buffered)} lines/s, end to end ${Math.round(e2e)} lines/s, PutRecords ceiling ${Math.round(ceiling)} records/s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const raw = median(rows.map((x) => x.raw));
const intake = median(rows.map((x) => x.intake));
const buffered = median(rows.map((x) => x.buffered));
const e2e = median(rows.map((x) => x.e2e));
const ceiling = median(rows.map((x) => x.ceiling));
const n = (x: number): string => Math.round(x).toLocaleString('en-US');
console.log(`\nSerial: ${n(LINES)} JSON lines (~120 B) through a socat pty pair, ${ROUNDS} round(s), medians\n`);
console.log('| path | lines/s | × raw pty |');
console.log('|---|---|---|');
console.log(`| raw pty: bare serialport + ReadlineParser | ${n(raw)} | 1.00 |`);
console.log(`| pty → tidegate serial source → LevelDB (fsync), durable, no sink traffic | ${n(intake)} | ${(intake / raw).toFixed(2)} |`);
console.log(`| pty → tidegate → LevelDB (fsync), durable, while forwarding to kinesalite | ${n(buffered)} | ${(buffered / raw).toFixed(2)} |`);
console.log(`| end to end: pty → tidegate → LevelDB → kinesalite, visible in the stream | ${n(e2e)} | ${(e2e / raw).toFixed(2)} |`);
console.log(`| (kinesalite alone: PutRecords ceiling, same run, records/s) | ${n(ceiling)} | ${(ceiling / raw).toFixed(2)} |`);
