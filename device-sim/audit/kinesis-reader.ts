/**
 * Reads every shard of a Kinesis stream from TRIM_HORIZON with GetRecords
 * until it is caught up (an empty page with MillisBehindLatest 0, or the end
 * of a closed shard). Readers keep their iterators, so a later call picks up
 * only what arrived since; new shards (after a reshard) are found on each call.
 */
import http from 'node:http';
import https from 'node:https';
import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface StreamRecord {
  shardId: string;
  data: Uint8Array;
}

export interface KinesisTarget {
  endpoint?: string;
  region: string;
  stream: string;
}

const LOOPBACK = /^(localhost|127(?:\.\d+){3}|\[::1\])$/;

/**
 * A client with the standard credential chain (environment, profile, role).
 * For a loopback endpoint without credentials in the environment (the
 * gateway's local emulator accepts any keys) it uses placeholder keys.
 */
export function auditClient(t: KinesisTarget, env: NodeJS.ProcessEnv = process.env): KinesisClient {
  const local = t.endpoint !== undefined && LOOPBACK.test(new URL(t.endpoint).hostname);
  const envCreds = env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE;
  return new KinesisClient({
    region: t.region,
    ...(t.endpoint ? { endpoint: t.endpoint } : {}),
    ...(local && !envCreds ? { credentials: { accessKeyId: 'device-sim-local', secretAccessKey: 'device-sim-local' } } : {}),
    // HTTP/1.1: kinesalite does not speak HTTP/2.
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true }), httpsAgent: new https.Agent({ keepAlive: true }), requestTimeout: 30_000 }),
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class StreamReader {
  readonly records: StreamRecord[] = [];
  private readonly iterators = new Map<string, string | null>();

  constructor(
    private readonly client: KinesisClient,
    private readonly stream: string,
  ) {}

  get shardCount(): number {
    return this.iterators.size;
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let token: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const out = await this.client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.stream }));
      shards.push(...(out.Shards ?? []));
      token = out.NextToken;
      if (!token) break;
    }
    return shards;
  }

  /** Reads what is new on every shard; returns how many records were added. */
  async catchUp(deadline: number): Promise<number> {
    const before = this.records.length;
    for (const s of await this.listShards()) {
      const id = s.ShardId as string;
      if (this.iterators.has(id)) continue;
      const it = await this.client.send(new GetShardIteratorCommand({ StreamName: this.stream, ShardId: id, ShardIteratorType: 'TRIM_HORIZON' }));
      this.iterators.set(id, it.ShardIterator ?? null);
    }
    for (const [id] of this.iterators) await this.drainShard(id, deadline);
    return this.records.length - before;
  }

  private async drainShard(id: string, deadline: number): Promise<void> {
    let backoff = 200;
    while (Date.now() < deadline) {
      const iterator = this.iterators.get(id);
      if (!iterator) return; // closed shard, read to its end
      let page;
      try {
        page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      } catch (err) {
        // AWS allows 5 GetRecords per second per shard; back off and retry.
        if ((err as Error).name !== 'ProvisionedThroughputExceededException') throw err;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
        continue;
      }
      const recs = page.Records ?? [];
      for (const r of recs) this.records.push({ shardId: id, data: r.Data as Uint8Array });
      this.iterators.set(id, page.NextShardIterator ?? null);
      if (recs.length === 0 && (page.MillisBehindLatest ?? 0) === 0) return;
    }
    throw new Error(`reading shard ${id} of ${this.stream} did not catch up before the audit's time limit; raise --timeout`);
  }
}
