import { describe, expect, it } from 'vitest';
import { renderUnit } from '../../src/cli/install-service.js';

describe('tidegate install-service', () => {
  const unit = renderUnit({
    configFile: '/etc/tidegate/tidegate.yaml',
    dataDir: '/var/lib/tidegate/data',
    workingDir: '/var/lib/tidegate',
    user: 'tidegate',
    memoryMax: '256M',
    heapMiB: 96,
    semiSpaceMiB: 4,
    node: '/usr/bin/node',
    entry: '/usr/lib/node_modules/tidegate/dist/src/main.js',
  });

  it('restarts on failure, survives reboots, and runs the gateway with a heap cap under a memory limit', () => {
    expect(unit).toContain('ExecStart=/usr/bin/node --max-semi-space-size=4 --max-old-space-size=96 --single-threaded-gc /usr/lib/node_modules/tidegate/dist/src/main.js run --config /etc/tidegate/tidegate.yaml');
    expect(unit).toContain('Environment=MALLOC_ARENA_MAX=2');
    expect(unit).toContain('Restart=on-failure');
    expect(unit).toContain('MemoryMax=256M');
    expect(unit).toContain('WantedBy=multi-user.target');
    expect(unit).toContain('User=tidegate');
  });

  it('may write only the data dir and the place a damaged buffer is moved to', () => {
    expect(unit).toContain('ProtectSystem=strict');
    expect(unit).toContain('ReadWritePaths=/var/lib/tidegate/data /var/lib/tidegate');
    expect(unit).toContain('UMask=0077');
    expect(unit).toContain('WorkingDirectory=/var/lib/tidegate');
  });
});
