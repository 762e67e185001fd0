import { vi } from 'vitest';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway, type ConfigDoc } from './gateway-harness.js';
import { emulatorClient } from './stream-reader.js';
import { TcpProxy } from './tcp-proxy.js';

export interface ProxiedKinesis {
  emulator: LocalEmulator;
  /** Between the gateway and the emulator: `cut()` makes Kinesis unreachable, `restore()` brings it back. */
  proxy: TcpProxy;
  kinesis: ReturnType<typeof emulatorClient>;
  gateway: Gateway;
  mqttUrl: string;
  close(): Promise<void>;
}

/**
 * An in-process gateway forwarding to a real emulator through a proxy the test controls, for outage tests.
 * The endpoint is not `local`, so the standard AWS credential chain applies: the environment is its first link.
 */
export async function gatewayBehindProxy(dataDir: string, stream: string, opts: { shards?: number; startCut?: boolean; config?: ConfigDoc } = {}): Promise<ProxiedKinesis> {
  const emulator = await startLocalEmulator('127.0.0.1', 0);
  const kinesis = emulatorClient(emulator.endpoint);
  await ensureStream(kinesis, stream, opts.shards ?? 2, AbortSignal.timeout(10_000));
  const proxy = new TcpProxy(emulator.port);
  await proxy.start();
  if (opts.startCut) await proxy.cut();
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  const { kinesis: kinesisOverrides, ...rest } = opts.config ?? {};
  const { gateway, mqttUrl } = await startTestGateway(dataDir, {
    ...rest,
    kinesis: { endpoint: proxy.url, streamName: stream, region: 'us-east-1', retry: { baseDelayMs: 20, maxDelayMs: 200 }, requestTimeoutMs: 2_000, ...(kinesisOverrides as object) },
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
