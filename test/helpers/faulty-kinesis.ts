import mqtt from 'mqtt';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { readAllShards } from '../../src/cli/verify/read-all-shards.js';
import type { ConfigDoc } from './gateway-harness.js';
import { KinesisFaultProxy, type FaultSettings } from './kinesis-fault-proxy.js';
import { gatewayBehind, type GatewayBehind } from './proxied-kinesis.js';

export type FaultyKinesis = GatewayBehind<KinesisFaultProxy>;

/** An in-process gateway → fault proxy → kinesalite. */
export function gatewayBehindFaultProxy(
  dataDir: string,
  stream: string,
  opts: { shards?: number; seed?: number; faults?: Partial<FaultSettings>; config?: ConfigDoc } = {},
): Promise<FaultyKinesis> {
  return gatewayBehind(
    dataDir,
    stream,
    async (port) => {
      const proxy = new KinesisFaultProxy(port, { seed: opts.seed ?? 1, ...(opts.faults ? { faults: opts.faults } : {}) });
      await proxy.start();
      return proxy;
    },
    { requestTimeoutMs: 5_000, ...(opts.shards !== undefined ? { shards: opts.shards } : {}), ...(opts.config ? { config: opts.config } : {}) },
  );
}

export interface Delivered {
  id: string;
  deviceId: string;
  seq: number;
  values: Record<string, unknown>;
}

/** Everything in the stream, de-aggregated, in stream order (shards parents first, each in sequence order). */
export async function readDelivered(kinesis: KinesisClient, stream: string): Promise<Delivered[]> {
  const read = await readAllShards(kinesis, stream, { callTimeoutMs: 30_000 }, AbortSignal.timeout(60_000));
  return read.shards.flatMap((s) => s.entries.map((e) => JSON.parse(e.data.toString('utf8')) as Delivered));
}

/**
 * Publishes `perDevice` readings from each of `devices` devices at QoS 1, in seq order per device (a window of
 * in-flight publishes per client); resolves with every `${deviceId}#${seq}` once all were acknowledged.
 */
export async function publishReadings(mqttUrl: string, opts: { prefix: string; devices: number; perDevice: number; inFlight?: number; payload?: (deviceId: string, seq: number) => object }): Promise<Set<string>> {
  const acked = new Set<string>();
  await Promise.all(
    Array.from({ length: opts.devices }, async (_, d) => {
      const deviceId = `${opts.prefix}${d}`;
      const client = await mqtt.connectAsync(mqttUrl, { clientId: deviceId, reconnectPeriod: 0 });
      try {
        const inFlight = opts.inFlight ?? 20;
        for (let base = 1; base <= opts.perDevice; base += inFlight) {
          const seqs = Array.from({ length: Math.min(inFlight, opts.perDevice - base + 1) }, (_, i) => base + i);
          await Promise.all(
            seqs.map((seq) =>
              client.publishAsync(`devices/${deviceId}/t`, JSON.stringify({ seq, ...(opts.payload?.(deviceId, seq) ?? { v: seq }) }), { qos: 1 }).then(() => void acked.add(`${deviceId}#${seq}`)),
            ),
          );
        }
      } finally {
        await client.endAsync();
      }
    }),
  );
  return acked;
}

export interface DeliveryAudit {
  lost: string[];
  /** Record id → copies beyond the first. */
  duplicateIds: Map<string, number>;
  extraCopies: number;
  /** Ids whose first copy came after a higher seq of the same device. */
  reorderedIds: string[];
}

/** Checks delivered records against the acknowledged readings. */
export function auditDelivery(records: readonly Delivered[], expected: ReadonlySet<string>): DeliveryAudit {
  const seen = new Set<string>();
  const copies = new Map<string, number>();
  const maxSeq = new Map<string, number>();
  const reorderedIds: string[] = [];
  for (const r of records) {
    seen.add(`${r.deviceId}#${r.seq}`);
    const n = copies.get(r.id) ?? 0;
    copies.set(r.id, n + 1);
    if (n > 0) continue;
    if (r.seq < (maxSeq.get(r.deviceId) ?? -Infinity)) reorderedIds.push(r.id);
    maxSeq.set(r.deviceId, Math.max(maxSeq.get(r.deviceId) ?? -Infinity, r.seq));
  }
  const duplicateIds = new Map([...copies].filter(([, n]) => n > 1).map(([id, n]) => [id, n - 1]));
  return {
    lost: [...expected].filter((k) => !seen.has(k)),
    duplicateIds,
    extraCopies: [...duplicateIds.values()].reduce((a, b) => a + b, 0),
    reorderedIds,
  };
}

/**
 * Waits until the gateway's buffer is empty (everything Kinesis accepted), then reads the stream once; reading
 * megabytes of records on every poll would only slow a loaded machine down. Bounded by the timeout.
 */
export async function waitUntilDrained(rig: FaultyKinesis, stream: string, expected: ReadonlySet<string>, timeoutMs: number): Promise<{ records: Delivered[]; audit: DeliveryAudit; drainedInMs: number }> {
  const started = Date.now();
  while (rig.gateway.bufferStats().buffered > 0 && Date.now() - started < timeoutMs) await new Promise((r) => setTimeout(r, 100));
  const drainedInMs = Date.now() - started;
  const records = await readDelivered(rig.kinesis, stream);
  return { records, audit: auditDelivery(records, expected), drainedInMs };
}
