import { TLSSocket } from 'node:tls';
import type { Client } from 'aedes';
import { GuardedConnection } from './guarded-connection.js';

/** Sockets accepted on a listener with `tls.identityFromCertificate: true`. */
const identityFromCertificate = new WeakSet<TLSSocket>();

export function markCertificateIdentity(socket: TLSSocket): void {
  identityFromCertificate.add(socket);
}

/**
 * The subject CN of the client certificate that OpenSSL verified during this client's handshake (mutual
 * TLS), or null: a plain TCP client, no certificate, an unverified one, or a subject with no or several CNs.
 */
export function verifiedCertificateCn(client: Client): string | null {
  const socket = tlsSocketOf(client);
  if (!socket || !socket.authorized) return null;
  const cn: unknown = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : null;
}

/**
 * The device id a client's readings carry when its listener takes identity from the certificate, or
 * undefined (the device id then comes from the topic). A client that cannot spoof its certificate cannot
 * write readings as another device.
 */
export function certificateDeviceId(client: Client): string | undefined {
  const socket = tlsSocketOf(client);
  if (!socket || !identityFromCertificate.has(socket)) return undefined;
  return verifiedCertificateCn(client) ?? undefined;
}

function tlsSocketOf(client: Client): TLSSocket | null {
  const conn: unknown = client.conn;
  return conn instanceof GuardedConnection && conn.socket instanceof TLSSocket ? conn.socket : null;
}
