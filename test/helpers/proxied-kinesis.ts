import { vi } from 'vitest';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway, type ConfigDoc } from './gateway-harness.js';
import { emulatorClient } from './stream-reader.js';
import { TcpProxy } from './tcp-proxy.js';

/** Any proxy a test puts between the gateway and the emulator. */
export interface KinesisProxy {
  url: string;
  close(): Promise<void>;
}

/** A gateway forwarding to a real emulator through a proxy the test controls. */
export interface GatewayBehind<P extends KinesisProxy> {
  emulator: LocalEmulator;
  proxy: P;
  /** Straight to the emulator, around the proxy: how a test reads what really landed. */
  kinesis: ReturnType<typeof emulatorClient>;
  gateway: Gateway;
  mqttUrl: string;
  close(): Promise<void>;
}

/**
 * An in-process gateway → `proxy` (made on the emulator's port) → a real emulator with `stream`. The endpoint is
 * not `local`, so the standard AWS credential chain applies: the environment is its first link.
 */
export async function gatewayBehind<P extends KinesisProxy>(
  dataDir: string,
  stream: string,
  makeProxy: (emulatorPort: number) => Promise<P>,
  opts: { shards?: number; requestTimeoutMs: number; config?: ConfigDoc },
): Promise<GatewayBehind<P>> {
  const emulator = await startLocalEmulator('127.0.0.1', 0);
  const kinesis = emulatorClient(emulator.endpoint);
  await ensureStream(kinesis, stream, opts.shards ?? 2, AbortSignal.timeout(10_000));
  const proxy = await makeProxy(emulator.port);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  const { kinesis: kinesisOverrides, ...rest } = opts.config ?? {};
  const { gateway, mqttUrl } = await startTestGateway(dataDir, {
    ...rest,
    kinesis: { endpoint: proxy.url, streamName: stream, region: 'us-east-1', retry: { baseDelayMs: 20, maxDelayMs: 200 }, requestTimeoutMs: opts.requestTimeoutMs, ...(kinesisOverrides as object) },
  });
  return {
    emulator,
    proxy,
    kinesis,
    gateway,
    mqttUrl,
    close: async () => {
      await gateway.stop(AbortSignal.timeout(10_000));
      kinesis.destroy();
      await proxy.close();
      await emulator.close();
      vi.unstubAllEnvs();
    },
  };
}

/** Between the gateway and the emulator, a TCP proxy: `cut()` makes Kinesis unreachable, `restore()` brings it back. */
export type ProxiedKinesis = GatewayBehind<TcpProxy>;

/** A gateway behind a TCP proxy, for outage tests. */
export function gatewayBehindProxy(dataDir: string, stream: string, opts: { shards?: number; startCut?: boolean; config?: ConfigDoc } = {}): Promise<ProxiedKinesis> {
  return gatewayBehind(
    dataDir,
    stream,
    async (port) => {
      const proxy = new TcpProxy(port);
      await proxy.start();
      if (opts.startCut) await proxy.cut();
      return proxy;
    },
    { requestTimeoutMs: 2_000, ...(opts.shards !== undefined ? { shards: opts.shards } : {}), ...(opts.config ? { config: opts.config } : {}) },
  );
}
