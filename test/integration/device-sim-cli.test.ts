import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { checkScenarioCommand } from '../../device-sim/cli/check-command.js';
import { buildProgram } from '../../device-sim/cli/program.js';
import { startTestBroker } from '../helpers/device-sim-broker.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { childEnv } from '../helpers/child-env.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'device-sim/main.ts', ...args], { cwd: repoRoot, timeout: 30_000, env: childEnv() }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('device-sim CLI', () => {
  it('keeps the classic flags and the bench invocation working, and reports usage errors with exit 2', async () => {
    const broker = await startTestBroker();
    const temp = await makeTempDir('device-sim-cli-');
    try {
      const bad = path.join(temp.dir, 'bad.yaml');
      await writeFile(bad, 'fleets:\n  - id: th-{i}\n    count: 3\n    profile: th\n    interval: soon\n');
      const report = path.join(temp.dir, 'out.json');
      // All at once: each spawn pays the TypeScript loader's start-up.
      const [classic, bench, help, usage, scenario] = await Promise.all([
        sim(['--devices', '5', '--rate', '20', '--duration', '1', '--url', broker.url, '--qos', '1', '--report', report]),
        sim(['--url', broker.url, '--devices', '10', '--qos', '1', '--payload-bytes', '200', '--json', '--count', '500', '--total-rate', '5000']),
        sim(['--help']),
        sim(['--devices', '0', '--count', 'x']),
        sim(['--scenario', bad, '--url', broker.url]),
      ]);

      expect(classic.code, classic.stderr).toBe(0);
      expect(classic.stdout).toMatch(/sent +100\n +acknowledged +100\n/);
      expect(classic.stdout).toMatch(/PUBACK latency +p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms/);
      const ledger = JSON.parse(await readFile(report, 'utf8')) as { acked: number; devices: Array<{ deviceId: string; boots: Array<{ acked: number[][] }> }> };
      expect(ledger.acked).toBe(100);
      expect(ledger.devices.map((d) => d.boots[0]!.acked)).toEqual(Array(5).fill([[1, 20]]));

      expect(bench.code, bench.stderr).toBe(0);
      const line = JSON.parse(bench.stdout.trim().split('\n').at(-1)!) as Record<string, any>;
      expect(line).toMatchObject({ acked: 500, ok: true, ackLatencyMs: { p50: expect.any(Number), p99: expect.any(Number) } });
      expect(line.ratePerSec).toBeGreaterThan(0);
      expect(Date.parse(line.startedAt)).toBeGreaterThan(0);
      expect(line.devices).toBeUndefined();
      expect(bench.stderr).toBe(''); // under 5 s: no periodic progress line

      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/run \[options\] +simulate devices \(the default command\)/);
      expect(help.stdout).toMatch(/audit \[options\]/);
      const runHelp = buildProgram(() => {}).commands.find((c) => c.name() === 'run')!.helpInformation();
      for (const flag of ['--devices', '--scenario', '--serial', '--persistent-session', '--mqtt-version', '--ca', '--report']) expect(runHelp).toContain(flag);

      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('--count expects a number (got "x"); e.g. --count 2000');
      expect(usage.stderr).toMatch(/--devices must be an integer from 1/);

      expect(scenario.code).toBe(2);
      expect(scenario.stderr).toMatch(/invalid scenario .*bad\.yaml \(1 problem\):\n {2}- fleets\[0\]\.interval: expected a duration/);
      expect(broker.connects).toHaveLength(5 + 10); // the bad ones never connected
    } finally {
      await broker.close();
      await temp.cleanup();
    }
  });

  it('check-scenario shows what a scenario would simulate, or its problems (exit 2)', () => {
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    const writeErr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    try {
      expect(checkScenarioCommand('device-sim/scenarios/flaky-uplink.yaml')).toBe(0);
      expect(out.join('')).toMatch(/flaky-uplink\.yaml: valid \(flaky-uplink\)\n/);
      expect(out.join('')).toMatch(/fleet climate: 60 devices th-001 \.\. th-060, every 0\.500 s ±20% \(120\.0 readings\/s\)/);
      expect(checkScenarioCommand('device-sim/scenarios/missing.yaml')).toBe(2);
      expect(out.join('')).toMatch(/missing\.yaml \(1 problem\):\n {2}- \(top level\): cannot read the file/);
    } finally {
      write.mockRestore();
      writeErr.mockRestore();
    }
  });
});
