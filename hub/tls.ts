// The gRPC port's TLS material. For the embedded default the hub generates a self-signed
// certificate (its own CA) on first start, valid for loopback and the given host names;
// in production the user provides cert and key files.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** What agents must trust: the certificate itself (self-signed) or the user's CA. */
  readonly ca: Buffer;
}

export async function ensureSelfSignedTls(dir: string, hosts: readonly string[] = []): Promise<TlsMaterial> {
  const certFile = join(dir, 'hub.crt');
  const keyFile = join(dir, 'hub.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const san = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', ...hosts.map((h) => (/^[\d.]+$/.test(h) ? `IP:${h}` : `DNS:${h}`))].join(',');
    try {
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', certFile, '-days', '825', '-subj', '/CN=flotilla-hub',
        '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=critical,CA:TRUE']);
    } catch (err) {
      throw new Error(`cannot generate the hub's TLS certificate with openssl (install openssl, or give --tls-cert/--tls-key): ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const cert = readFileSync(certFile);
  return { cert, key: readFileSync(keyFile), ca: cert };
}

export function loadTls(certFile: string, keyFile: string, caFile?: string): TlsMaterial {
  const cert = readFileSync(certFile);
  return { cert, key: readFileSync(keyFile), ca: caFile ? readFileSync(caFile) : cert };
}
