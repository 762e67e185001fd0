import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load.js';

export interface ServiceOptions {
  config: string;
  user: string;
  /** Where to write the unit; `-` prints it. */
  output: string;
  /** systemd MemoryMax, e.g. 512M. */
  memoryMax: string;
  /** V8 old-space cap in MiB (keeps RSS predictable on small boards). */
  heapMiB: number;
  /** V8 semi-space size in MiB (the young generation is made of these). */
  semiSpaceMiB: number;
}

/**
 * A systemd unit for tidegate: restarts on failure (what was acknowledged is on disk), survives reboots,
 * runs as an unprivileged user, may write only its data dir, and has a memory limit. The exec line uses the
 * node binary and tidegate entry file that ran this command, so it works from a checkout or a global install.
 */
export function renderUnit(o: { configFile: string; dataDir: string; workingDir: string; user: string; memoryMax: string; heapMiB: number; semiSpaceMiB: number; node: string; entry: string }): string {
  return `[Unit]
Description=tidegate telemetry gateway (MQTT to Amazon Kinesis)
Wants=network-online.target
After=network-online.target time-sync.target

[Service]
Type=simple
User=${o.user}
Group=${o.user}
# Relative paths in the config resolve from here, as they did when the unit was written.
WorkingDirectory=${o.workingDir}
# The V8 heap, chosen by measurement (bench/RESULTS.md, End to end and Soak): left to itself V8 lets readings
# that outlived a scavenge pile up in the old space, 200-275 MiB resident; 4 MiB semi-spaces and a 128 MiB
# old space held a steady 1,000 readings/s at 120-124 MiB for the same CPU, and a burst at 130 MiB for about
# half again the CPU per reading.
# glibc gives each thread that allocates its own malloc arena (up to 8 per core); LevelDB's writes and the
# fsyncs run on libuv's pool threads, and their arenas' free space stays resident. Two arenas held the
# steady 1,000 readings/s about 7 MiB lower for the same CPU (bench/RESULTS.md, Resident memory).
Environment=MALLOC_ARENA_MAX=2
# V8's collections on the main thread instead of helper threads: at a steady 1,000 readings/s the helpers
# took about 1.5 % of a core more than the main thread then spends on the same work, and a burst measured
# no more CPU per reading and the same throughput (bench/RESULTS.md, Soak, 2026-12-07).
ExecStart=${o.node} --max-semi-space-size=${o.semiSpaceMiB} --max-old-space-size=${o.heapMiB} --single-threaded-gc ${o.entry} run --config ${o.configFile}
Restart=on-failure
RestartSec=5s
# SIGTERM stops through tidegate's shutdown path; shutdown.deadlineMs must fit inside this.
TimeoutStopSec=30s
KillSignal=SIGTERM
MemoryMax=${o.memoryMax}
# JSON lines on stdout go to the journal: journalctl -u tidegate -o cat
StandardOutput=journal
StandardError=journal
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
# The data dir, and its parent: a damaged buffer is moved aside next to it (<dataDir>.corrupt-<time>).
ReadWritePaths=${o.dataDir} ${path.dirname(o.dataDir)}
UMask=0077
# Serial adapters (/dev/ttyUSB*) need the dialout group.
SupplementaryGroups=dialout

[Install]
WantedBy=multi-user.target
`;
}

/** `tidegate install-service`: writes the unit (needs root for /etc/systemd/system) or prints it. */
export async function installServiceCommand(o: ServiceOptions): Promise<number> {
  const configFile = path.resolve(o.config);
  const config = await loadConfig(configFile);
  const unit = renderUnit({
    configFile,
    dataDir: config.dataDir,
    user: o.user,
    memoryMax: o.memoryMax,
    heapMiB: o.heapMiB,
    semiSpaceMiB: o.semiSpaceMiB,
    workingDir: process.cwd(),
    node: process.execPath,
    entry: builtEntry(process.argv[1] ?? 'dist/src/main.js'),
  });
  // The unit runs the node that ran this command. Node 20 reached end of life on 2026-04-30, and AWS SDK v3
  // releases after the first week of January 2027 require Node >= 22: say so while it can still be fixed.
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 22) {
    process.stderr.write(`note: the unit runs Node ${process.versions.node} (${process.execPath}); Node 22 LTS is recommended (Node 20 is end of life)\n`);
  }
  if (o.output === '-') {
    process.stdout.write(unit);
    return 0;
  }
  await writeFile(o.output, unit, { mode: 0o644 });
  process.stdout.write(
    `wrote ${o.output}\nnext: sudo useradd --system --home ${config.dataDir} ${o.user}  (if the user does not exist)\n` +
      `      sudo mkdir -p ${config.dataDir} && sudo chown ${o.user}: ${config.dataDir}\n` +
      `      sudo systemctl daemon-reload && sudo systemctl enable --now tidegate\n`,
  );
  return 0;
}

/** The compiled entry: when this runs from source (src/main.ts), the service runs the build next to it. */
function builtEntry(argv1: string): string {
  const entry = path.resolve(argv1);
  return entry.endsWith('.ts') ? path.resolve(path.dirname(entry), '../dist/src/main.js') : entry;
}
