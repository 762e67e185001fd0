/**
 * `device-sim check-scenario FILE`: validates a scenario and shows what it
 * would simulate (fleets, ids, fields, rates, faults) without connecting.
 * Exit 0 valid, 2 invalid (every problem printed with its path).
 */
import { ScenarioError } from '../scenario/errors.js';
import { expandFleets, fleetName } from '../scenario/fleet.js';
import { loadScenarioFile } from '../scenario/load.js';

const int = (v: number): string => Math.round(v).toLocaleString('en-US');

export function checkScenarioCommand(file: string): number {
  let scenario;
  try {
    scenario = loadScenarioFile(file);
  } catch (err) {
    if (err instanceof ScenarioError) {
      process.stderr.write(`device-sim: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const { doc } = scenario;
  const devices = expandFleets(doc.fleets, doc.profiles ?? {}, {}, []);
  const lines = [`${file}: valid${doc.name ? ` (${doc.name})` : ''}`];
  if (doc.description) lines.push(`  ${doc.description.trim().replace(/\s+/g, ' ')}`);
  let total = 0;
  doc.fleets.forEach((fleet, f) => {
    const own = devices.filter((d) => d.fleet === f);
    const first = own[0];
    const last = own[own.length - 1];
    if (!first || !last) return;
    const rate = own.reduce((s, d) => s + 1000 / d.intervalMs, 0);
    total += rate;
    const fields = [...new Set(own.flatMap((d) => d.fieldSet.emitted))].join(', ');
    lines.push(
      `  fleet ${fleetName(fleet, f)}: ${int(own.length)} devices ${first.deviceId} .. ${last.deviceId}, every ${(first.intervalMs / 1000).toFixed(3)} s` +
        `${first.jitter ? ` ±${Math.round(first.jitter * 100)}%` : ''} (${rate.toFixed(1)} readings/s); fields: ${fields}`,
    );
  });
  lines.push(`  total            ${int(devices.length)} devices, ${total.toFixed(1)} readings/s nominal`);
  const t = doc.transport;
  lines.push(`  transport        ${t?.serial ? `serial ${t.serial.path ?? '(path from --serial)'} ${t.serial.framing}` : `mqtt ${t?.mqtt?.url ?? '(url from --url)'}`}`);
  const faults = Object.keys(doc.faults ?? {});
  if (faults.length) lines.push(`  faults           ${faults.join(', ')}`);
  const anomalies = doc.anomalies ?? [];
  if (anomalies.length) {
    const kinds = [...new Set(anomalies.map((a) => a.kind))];
    lines.push(`  anomalies        ${anomalies.length} entr${anomalies.length === 1 ? 'y' : 'ies'}: ${kinds.join(', ')} (placed from the seed at run time; --truth FILE records them)`);
  }
  const run = doc.run;
  lines.push(`  run              ${run?.duration !== undefined ? `duration ${String(run.duration)}` : ''}${run?.count !== undefined ? ` count ${run.count}` : ''}${run?.duration === undefined && run?.count === undefined ? 'unbounded: pass --duration or --count' : ''}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
