import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { childEnv } from './child-env.js';

const run = promisify(execFile);

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

/**
 * A throw-away PKI made with the openssl binary in a test's temp dir: EC P-256 keys (fast to generate),
 * certificates signed by a CA of the test's own. Nothing here protects anything.
 */
export class TestPki {
  private constructor(
    private readonly dir: string,
    readonly ca: CertFiles,
  ) {}

  static async create(dir: string, caName = 'tidegate test CA'): Promise<TestPki> {
    const ca = files(dir, slug(caName));
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.keyFile, '-out', ca.certFile, '-days', '2', '-subj', `/CN=${caName}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    return new TestPki(dir, ca);
  }

  /** A server certificate for 127.0.0.1 (subjectAltName IP, what TLS clients check against a numeric host). */
  serverCert(name = 'server'): Promise<CertFiles> {
    return this.issue(name, '/CN=127.0.0.1', { days: 2, ext: 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth' });
  }

  /** A client certificate with subject CN `cn`; `days: -1` makes one that expired at issue time. */
  clientCert(cn: string, opts: { days?: number } = {}): Promise<CertFiles> {
    return this.issue(`client-${slug(cn)}-${opts.days ?? 2}`, `/CN=${cn}`, { days: opts.days ?? 2, ext: 'extendedKeyUsage=clientAuth' });
  }

  /** A valid client certificate whose subject has no CN (only an organisation). */
  clientCertWithoutCn(org: string): Promise<CertFiles> {
    return this.issue(`client-nocn-${slug(org)}`, `/O=${org}`, { days: 2, ext: 'extendedKeyUsage=clientAuth' });
  }

  /** A certificate signed by its own key, not by any CA. */
  async selfSigned(cn: string): Promise<CertFiles> {
    const out = files(this.dir, `self-${slug(cn)}`);
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', out.keyFile, '-out', out.certFile, '-days', '2', '-subj', `/CN=${cn}`]);
    return out;
  }

  private async issue(name: string, subject: string, opts: { days: number; ext: string }): Promise<CertFiles> {
    const out = files(this.dir, name);
    const csr = path.join(this.dir, `${name}.csr`);
    const ext = path.join(this.dir, `${name}.ext`);
    await writeFile(ext, `${opts.ext}\n`);
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', out.keyFile, '-out', csr, '-subj', subject]);
    await openssl(['x509', '-req', '-in', csr, '-CA', this.ca.certFile, '-CAkey', this.ca.keyFile, '-CAcreateserial', '-days', String(opts.days), '-extfile', ext, '-out', out.certFile]);
    return out;
  }
}

function files(dir: string, name: string): CertFiles {
  return { certFile: path.join(dir, `${name}.pem`), keyFile: path.join(dir, `${name}.key`) };
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9]+/g, '-');
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { timeout: 15_000, env: childEnv() });
}
