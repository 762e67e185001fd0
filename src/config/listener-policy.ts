import { isIP } from 'node:net';
import type { ConfigProblem } from './problem.js';
import type { ListenerConfig } from './schema.js';

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host.toLowerCase() === '::ffff:127.0.0.1';
}

/** Mutual TLS authenticates every client: the handshake fails without a certificate signed by the listener's CA. */
export function authenticatesClients(l: ListenerConfig): boolean {
  return l.tls?.requireClientCert === true;
}

/**
 * Secure default (mosquitto 2's rule): anonymous clients are accepted on loopback only. A non-loopback
 * listener needs client authentication: mutual TLS (`tls.requireClientCert`) or `mqtt.auth.usersFile` (then
 * every listener requires a username and password unless it sets `allowAnonymous: true`); or an explicit
 * `allowAnonymous: true`.
 */
export function listenerProblems(listeners: readonly ListenerConfig[], auth: { usersFile?: string | undefined } = {}): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  listeners.forEach((l, i) => {
    if (!isLoopbackHost(l.host) && l.allowAnonymous !== true && !auth.usersFile && !authenticatesClients(l)) {
      problems.push({
        path: `mqtt.listeners[${i}]`,
        message:
          `listener ${l.host}:${l.port} is reachable from other machines and no authentication is configured; ` +
          `bind it to 127.0.0.1, set mqtt.auth.usersFile (users from \`tidegate passwd add\`), require client certificates (tls.requireClientCert: true), or set allowAnonymous: true to accept anonymous clients from the network on purpose`,
      });
    }
  });
  return problems;
}
