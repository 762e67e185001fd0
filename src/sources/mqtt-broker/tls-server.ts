import tls from 'node:tls';
import type net from 'node:net';
import { describeError, TidegateError } from '../../core/errors.js';
import { loadTlsMaterial, type TlsMaterial } from '../../core/tls-files.js';
import type { ListenerTlsConfig } from './config.js';
import { markCertificateIdentity } from './certificate-identity.js';

export interface MqttTlsServerHooks {
  /** A client finished its handshake (and, under mutual TLS, presented a certificate the CA signed). */
  onSecureSocket(socket: tls.TLSSocket): void;
  /** A connection failed its handshake: wrong protocol version, no or untrusted client certificate, plaintext, timeout. */
  onHandshakeFailure(err: Error, socket: net.Socket): void;
}

/**
 * A TLS server for one MQTT listener (MQTT over TLS, [MQTT-4.2]: the transport must be ordered and
 * lossless; TLS adds confidentiality and, with client certificates, authentication). Files are read and
 * checked here, at start, so a bad path or a key that does not match its certificate stops the gateway
 * with a message naming `mqtt.listeners[<index>].tls.<key>` instead of failing at the first handshake.
 */
export async function createMqttTlsServer(config: ListenerTlsConfig, index: number, hooks: MqttTlsServerHooks): Promise<{ server: tls.Server; material: TlsMaterial }> {
  const where = `mqtt.listeners[${index}].tls`;
  const material = await loadTlsMaterial(config, where);
  const credentials = { cert: material.cert, key: material.key, ...(material.ca ? { ca: material.ca } : {}) };
  try {
    // The server builds its context from the same options; building one here surfaces OpenSSL's objections now.
    tls.createSecureContext({ ...credentials, minVersion: config.minVersion });
  } catch (err) {
    throw new TidegateError('ERR_TLS_CONFIG', `${where}: the certificate, key or CA cannot be used by OpenSSL (${describeError(err)}); check them with \`openssl verify -CAfile <ca> <cert>\``, { cause: err });
  }
  const server = tls.createServer(
    {
      ...credentials,
      minVersion: config.minVersion,
      requestCert: config.requireClientCert,
      // With requestCert, OpenSSL verifies the chain against `ca`, the validity dates and the signature;
      // rejectUnauthorized turns any failure (or no certificate at all) into a failed handshake.
      rejectUnauthorized: config.requireClientCert,
      // Node's default is 120 s: a port scanner or a half-open connection would hold a socket that long.
      handshakeTimeout: config.handshakeTimeoutMs,
    },
    (socket) => {
      if (config.identityFromCertificate) {
        const cn: unknown = socket.getPeerCertificate().subject?.CN;
        if (typeof cn !== 'string' || cn.length === 0) {
          // Without exactly one CN there is no device id to give its readings: refuse rather than fall back to the topic.
          hooks.onHandshakeFailure(new Error('the client certificate has no single subject CN to use as the device id (tls.identityFromCertificate)'), socket);
          socket.destroy();
          return;
        }
        markCertificateIdentity(socket);
      }
      hooks.onSecureSocket(socket);
    },
  );
  server.on('tlsClientError', (err, socket) => {
    hooks.onHandshakeFailure(err, socket);
    // With a tlsClientError listener Node leaves a timed-out handshake's socket open: close it here.
    socket.destroy();
  });
  return { server, material };
}
