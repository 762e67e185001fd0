import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout (journald- and collector-friendly); human-readable when stdout is a terminal.
 * Credentials never reach a log line: the redact paths cover the places they could travel.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  return pino({
    level,
    base: { svc: 'tidegate' },
    redact: { paths: ['*.password', '*.secretAccessKey', '*.sessionToken', 'credentials'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'svc,pid,hostname' } } } : {}),
  });
}
