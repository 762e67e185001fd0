import { pino, type DestinationStream, type Logger } from 'pino';
import { redactSecrets } from './redact-secrets.js';

export type { Logger };

/**
 * JSON lines on stdout (journald- and collector-friendly); human-readable when stdout is a terminal.
 * Credentials never reach a log line: the redact paths cover the places they could travel.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { svc: 'tidegate' },
    redact: { paths: ['*.password', '*.secretAccessKey', '*.sessionToken', 'credentials'], censor: '[redacted]' },
    // Secret-named keys at any depth (a whole config, a nested list of MQTT users), besides the paths above.
    formatters: { log: (obj: Record<string, unknown>) => redactSecrets(obj) },
    ...(pretty && !destination ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'svc,pid,hostname' } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
