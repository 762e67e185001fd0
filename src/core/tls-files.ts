import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeError, TidegateError } from './errors.js';

/** PEM material for one TLS endpoint, read and checked at start. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** Subject CN and notAfter of the leaf certificate, for the start log (nothing secret). */
  subject: string;
  validTo: Date;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string | undefined;
}

/**
 * Reads a certificate, its key and optionally a CA bundle, and checks they are usable: each file readable,
 * PEM that parses, and the key belonging to the certificate. Every problem is an ERR_TLS_CONFIG naming the
 * config key (`where`) and the file, so the operator sees what to fix instead of an OpenSSL trace at the
 * first handshake.
 */
export async function loadTlsMaterial(files: TlsFiles, where: string): Promise<TlsMaterial> {
  const cert = await readPem(files.certFile, `${where}.certFile`);
  const key = await readPem(files.keyFile, `${where}.keyFile`);
  const ca = files.caFile ? await readPem(files.caFile, `${where}.caFile`) : undefined;

  const leaf = parseCertificate(cert, files.certFile, `${where}.certFile`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw tlsError(`${where}.keyFile`, files.keyFile, `is not a PEM private key (${describeError(err)})`, 'point it at the unencrypted PEM key of the certificate');
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw tlsError(
      `${where}.keyFile`,
      files.keyFile,
      `does not belong to the certificate in ${path.resolve(files.certFile)}`,
      'use the key the certificate was issued for (compare `openssl x509 -pubkey -noout -in <cert>` with `openssl pkey -pubout -in <key>`)',
    );
  }
  if (ca) parseCertificate(ca, files.caFile!, `${where}.caFile`);
  return { cert, key, ...(ca ? { ca } : {}), subject: leaf.subject.replace(/\n/g, ', '), validTo: new Date(leaf.validTo) };
}

async function readPem(file: string, where: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const fix = code === 'EACCES' ? 'make it readable by the user tidegate runs as' : 'check the path (relative paths are relative to the directory tidegate runs in)';
    throw tlsError(where, file, `cannot be read (${code ?? describeError(err)})`, fix, err);
  }
}

function parseCertificate(pem: Buffer, file: string, where: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw tlsError(where, file, 'holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" line)', 'convert a DER file with `openssl x509 -inform der -in <file> -out <file>.pem`');
  }
  try {
    // The first certificate of the file: the leaf for certFile, the first CA of a bundle for caFile.
    return new X509Certificate(pem);
  } catch (err) {
    throw tlsError(where, file, `is not a valid PEM certificate (${describeError(err)})`, 'check the file with `openssl x509 -noout -text -in <file>`', err);
  }
}

function tlsError(where: string, file: string, problem: string, fix: string, cause?: unknown): TidegateError {
  return new TidegateError('ERR_TLS_CONFIG', `${where}: ${path.resolve(file)} ${problem}; ${fix}`, cause === undefined ? {} : { cause });
}
