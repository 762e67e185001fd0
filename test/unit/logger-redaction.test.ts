import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logger.js';

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger('debug', false, { write: (line: string) => void lines.push(line) }) };
}

const SECRETS = ['mqtt-password-1', 'mqtt-password-2', 'listener-password', 'aws-secret-key-value', 'aws-session-token-value', 'AWS4-HMAC-SHA256 Credential=ASIAX'];

describe('logger redaction', () => {
  it('logs a whole config with AWS IoT credentials settings and nested MQTT passwords without any secret', () => {
    const config = validateConfig(
      {
        mqtt: { listeners: [{ host: '127.0.0.1', port: 0 }] },
        kinesis: {
          credentials: {
            source: 'iot',
            iot: { endpoint: 'c2example.credentials.iot.us-east-1.amazonaws.com', roleAlias: 'tidegate-kinesis', thingName: 'gateway-site-7', certFile: '/etc/tidegate/iot/cert.pem', keyFile: '/etc/tidegate/iot/key.pem' },
          },
        },
      },
      'test',
    );
    // Places a password can sit in a config document (users on the broker, on a listener, a site broker).
    const withPasswords = {
      ...config,
      mqtt: { ...config.mqtt, users: [{ username: 'dev-1', password: 'mqtt-password-1' }, { username: 'dev-2', password: 'mqtt-password-2' }] },
      listeners: [{ host: '0.0.0.0', auth: { password: 'listener-password' } }],
    };
    const { lines, logger } = capture();
    logger.info({ config: withPasswords }, 'configuration');
    logger.info({ credentials: { accessKeyId: 'ASIAX', secretAccessKey: 'aws-secret-key-value', sessionToken: 'aws-session-token-value' } }, 'top-level credentials');
    logger.debug({ request: { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=ASIAX/20261128/us-east-1/kinesis/aws4_request', 'x-amz-security-token': 'aws-session-token-value' } } }, 'a request');
    logger.warn({ aws: [{ creds: { secretAccessKey: 'aws-secret-key-value' } }] }, 'nested in an array');

    const text = lines.join('\n');
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    // What is not secret is still there: operators need it.
    const logged = JSON.parse(lines[0]!) as { config: { kinesis: { credentials: { iot: Record<string, string> } }; mqtt: { users: Array<Record<string, string>> } } };
    expect(logged.config.kinesis.credentials.iot).toMatchObject({ roleAlias: 'tidegate-kinesis', thingName: 'gateway-site-7', keyFile: '/etc/tidegate/iot/key.pem' });
    expect(logged.config.mqtt.users).toEqual([{ username: 'dev-1', password: '[redacted]' }, { username: 'dev-2', password: '[redacted]' }]);
  });

  it('leaves the logged object itself untouched', () => {
    const { logger } = capture();
    const user = { username: 'dev-1', password: 'mqtt-password-1' };
    logger.info({ users: [user] }, 'users');
    expect(user.password).toBe('mqtt-password-1');
  });
});
