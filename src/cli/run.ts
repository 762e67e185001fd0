import { loadConfigInWorker } from '../config/load-in-worker.js';
import { describeError, isTidegateError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import type { Gateway } from '../gateway.js';

/**
 * `tidegate run`: starts the gateway and stops it on SIGTERM/SIGINT through the gateway's one shutdown
 * path, within `shutdown.deadlineMs`. A second signal exits at once (what was acked is on disk already).
 */
export async function runCommand(configFile: string): Promise<number> {
  // Validated in a worker thread, so the gateway's heap never holds the config's schemas; and only then is
  // the gateway's code loaded, so the worker's heap and the gateway's are not resident at once (the peak RSS
  // of a small board's service is what its memory limit must allow).
  const config = await loadConfigInWorker(configFile);
  const { Gateway } = await import('../gateway.js');
  // The buffer holds site data: files only for tidegate's own user (0600, directories 0700).
  process.umask(0o077);
  const logger = createLogger(config.log.level);
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 22) {
    logger.warn(
      { node: process.version },
      'AWS SDK releases after the first week of January 2027 require Node.js 22; this install keeps its locked SDK version, plan the move to Node.js 22',
    );
  }
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(config, logger);
  } catch (err) {
    logger.fatal({ code: isTidegateError(err) ? err.code : undefined, err: describeError(err) }, 'tidegate could not start');
    logger.flush();
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      signalled = true;
      logger.info({ signal, deadlineMs: config.shutdown.deadlineMs }, 'shutting down');
      gateway.stop(AbortSignal.timeout(config.shutdown.deadlineMs)).then(() => {
        logger.info('stopped');
        logger.flush();
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // A bug must not take acknowledged readings down with it: they are on disk. Log it and stop through the
    // same shutdown path, with a failure status so the service manager restarts tidegate.
    process.on('unhandledRejection', (reason) => {
      logger.fatal({ err: reason instanceof Error ? reason.stack : String(reason) }, 'internal error (please report it); stopping');
      if (signalled) return;
      signalled = true;
      void gateway.stop(AbortSignal.timeout(config.shutdown.deadlineMs)).then(() => resolve(1));
    });
  });
}
