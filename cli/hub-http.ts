// How the `flotilla` command calls the hub's HTTP API. A hub on a non-loopback address serves
// HTTPS, usually with its own certificate authority (<dataDir>/tls/hub.crt): `--ca-file` or
// FLOTILLA_HUB_CA names the PEM to trust, in addition to the system's CAs. Verification is
// never turned off; a certificate that does not verify is an error that says what to give.
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

let trusted: { readonly file: string; readonly pem: Buffer } | undefined;

/** Trusts `file` (PEM, one or more certificates) for https hub URLs; throws when it cannot be read. */
export function trustHubCa(file: string, flag: string): void {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new Error(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)} (the PEM the hub's HTTPS certificate chains to, e.g. the hub's <dataDir>/tls/hub.crt)`);
  }
  if (!pem.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${flag} ${file} holds no PEM certificate (want the CA the hub's HTTPS certificate chains to, e.g. the hub's <dataDir>/tls/hub.crt)`);
  trusted = { file, pem };
}

/** A call that failed for a reason about TLS, with what to do (not "the hub is down"). */
export class HubTlsError extends Error {}

/** Error codes of a certificate the client does not trust (as Node's TLS reports them). */
const UNTRUSTED = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE']);

function codeOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const own = (err as NodeJS.ErrnoException).code;
  if (own !== undefined) return own;
  return codeOf((err as { cause?: unknown }).cause);
}

/** The error of a failed call, with what to do when it is about TLS. */
function explain(url: URL, err: unknown): Error {
  const code = codeOf(err);
  const base = err instanceof Error ? err.message : String(err);
  const detail = code !== undefined && !base.includes(code) ? `${base}: ${code}` : base;
  if (code !== undefined && UNTRUSTED.has(code)) {
    return new HubTlsError(`${detail}: the hub's certificate does not chain to a trusted CA${trusted ? ` (nor to --ca-file/FLOTILLA_HUB_CA ${trusted.file})` : ''}; pass --ca-file <pem> or set FLOTILLA_HUB_CA (a hub's own CA is its <dataDir>/tls/hub.crt)`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new HubTlsError(`${detail}: the hub's certificate does not name ${url.hostname}; use a name it has, or add this one to the hub's http.hosts`);
  }
  if (url.protocol === 'http:' && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET')) {
    return new HubTlsError(`${detail} (a hub serving HTTPS closes plain HTTP connections: is it https://${url.host}?)`);
  }
  return err instanceof Error ? err : new Error(base);
}

/** fetch() for the hub's API: an https URL also trusts the CA given with trustHubCa. */
export async function hubFetch(target: string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}): Promise<Response> {
  const url = new URL(target);
  if (url.protocol !== 'https:' || trusted === undefined) {
    try {
      return await fetch(url, init);
    } catch (err) {
      throw explain(url, err);
    }
  }
  const ca = [...rootCertificates, trusted.pem.toString('utf8')];
  return await new Promise<Response>((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, ca, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => { chunks.push(chunk); });
      res.on('error', (err) => { reject(explain(url, err)); });
      res.on('end', () => {
        const status = res.statusCode ?? 502;
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, one);
        }
        resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers }));
      });
    });
    req.on('error', (err) => { reject(explain(url, err)); });
    req.end(init.body);
  });
}
