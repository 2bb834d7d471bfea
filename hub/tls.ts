// The gRPC port's TLS material. For the embedded default the hub generates a self-signed
// certificate (its own CA) on first start, valid for loopback and the given host names;
// in production the user provides cert and key files.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
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
    const san = subjectAltNames(hosts);
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

/** The SAN list of a certificate of the hub: always loopback, then the given names (IP or DNS). */
function subjectAltNames(hosts: readonly string[]): string {
  return ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', ...hosts.map((h) => (isIP(h) !== 0 ? `IP:${h}` : `DNS:${h}`))].join(',');
}

/** Names a self-signed certificate cannot carry: wildcard listen addresses and empty strings. */
function certifiable(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h !== '' && h !== '0.0.0.0' && h !== '::';
}

/** Whether `cert` names `host` (a DNS name or an IP address) in its subjectAltName. */
function covers(cert: X509Certificate, host: string): boolean {
  return isIP(host) === 0 ? cert.checkHost(host, { subject: 'never' }) !== undefined : cert.checkIP(host) !== undefined;
}

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/**
 * The HTTP API's certificate when the hub makes its own: a leaf signed by the hub's
 * self-signed CA (`<dir>/hub.crt`, the same one agents trust for the gateway; made here when
 * missing), so a client trusts one file for both ports. The leaf (`<dir>/http.crt`,
 * `http.key`) names loopback and `hosts`, and is made again, under the same CA, when a host
 * is added, the CA changed, or it expires within 30 days: adding a name never changes what
 * clients trust.
 */
export async function ensureHttpTls(dir: string, hosts: readonly string[], caHosts: readonly string[] = []): Promise<TlsMaterial & { readonly caFile: string }> {
  const authority = await ensureSelfSignedTls(dir, caHosts);
  const caFile = join(dir, 'hub.crt');
  const certFile = join(dir, 'http.crt');
  const keyFile = join(dir, 'http.key');
  const names = [...new Set(hosts.map((h) => h.replace(/^\[(.*)\]$/, '$1')).filter(certifiable))];
  const current = (): boolean => {
    if (!existsSync(certFile) || !existsSync(keyFile)) return false;
    const cert = new X509Certificate(readFileSync(certFile));
    return cert.checkIssued(new X509Certificate(authority.cert)) && cert.verify(new X509Certificate(authority.cert).publicKey)
      && Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS && ['127.0.0.1', 'localhost', ...names].every((h) => covers(cert, h));
  };
  if (!current()) {
    // Made under temporary names and renamed: a crash half-way leaves the previous pair whole.
    const [newCert, newKey] = [`${certFile}.new`, `${keyFile}.new`];
    try {
      await run('openssl', ['req', '-x509', '-CA', caFile, '-CAkey', join(dir, 'hub.key'),
        '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', newKey, '-out', newCert,
        '-days', '397', '-subj', '/CN=flotilla-hub-http', '-addext', `subjectAltName=${subjectAltNames(names)}`,
        '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
    } catch (err) {
      rmSync(newCert, { force: true });
      rmSync(newKey, { force: true });
      throw new Error(`cannot make the HTTP API's TLS certificate with openssl (install openssl 3, or give http.tls.certFile/keyFile): ${err instanceof Error ? err.message : String(err)}`);
    }
    renameSync(newKey, keyFile);
    renameSync(newCert, certFile);
  }
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), ca: authority.cert, caFile };
}
