// The hub API's registration routes, what `flotilla cluster add|remove --hub <url>` calls:
// they work whatever the store (a directory or a bucket shared by several hubs).
//   GET  /api/v1/clusters                 registered clusters            (read)
//   POST /api/v1/clusters/tokens          a registration token, shown once (write)
//   POST /api/v1/clusters/<name>/revoke   revoke the credential and spend the cluster's unused tokens (write)
import { z } from 'zod';
import { checkLabel } from '../core/registration.js';
import { readBody, sendJson, type HttpRoute } from './http-api.js';
import { RegistrationError, type RegistrationStore } from './registration.js';

const MAX_TTL_SECONDS = 30 * 24 * 3600;

export const TokenRequestBody = z.object({
  cluster: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'cluster must be a DNS label').optional(),
  labels: z.record(z.string(), z.string()).superRefine((labels, ctx) => {
    for (const [key, value] of Object.entries(labels)) {
      try {
        checkLabel(key, value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: [key], message: err instanceof Error ? err.message : String(err) });
      }
    }
  }).optional(),
  ttlSeconds: z.number().int().min(1).max(MAX_TTL_SECONDS).default(3600),
  uses: z.number().int().min(1).max(10_000).default(1),
}).strict();

export interface TokenAnswer {
  readonly id: string;
  readonly token: string;
  readonly expiresAt: number;
}

export interface RevokeAnswer {
  readonly cluster: string;
  /** False when the cluster had no valid credential. */
  readonly revoked: boolean;
  /** Unused tokens made for it, now spent. */
  readonly tokensSpent: number;
}

export interface ClusterAnswer {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly registeredAt: number;
  readonly revokedAt?: number;
}

export function clusterRoutes(registration: RegistrationStore): HttpRoute[] {
  return [
    {
      method: 'GET', path: '/api/v1/clusters', access: 'read',
      handle: async (_req, res) => {
        const clusters: ClusterAnswer[] = (await registration.clusters()).map((c) => ({
          name: c.name, labels: c.labels, registeredAt: c.registeredAt, ...(c.revokedAt !== undefined ? { revokedAt: c.revokedAt } : {}),
        }));
        sendJson(res, 200, clusters);
      },
    },
    {
      method: 'POST', path: '/api/v1/clusters/tokens', access: 'write',
      handle: async (req, res) => {
        let body: z.infer<typeof TokenRequestBody>;
        try {
          body = TokenRequestBody.parse(JSON.parse((await readBody(req, 16 << 10)).toString('utf8') || '{}'));
        } catch (err) {
          const message = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') : err instanceof Error ? err.message : String(err);
          sendJson(res, 400, { error: `invalid token request: ${message}` });
          return;
        }
        const answer: TokenAnswer = await registration.createToken({
          ttlMs: body.ttlSeconds * 1000, uses: body.uses, ...(body.labels ? { labels: body.labels } : {}), ...(body.cluster ? { cluster: body.cluster } : {}),
        });
        sendJson(res, 201, answer);
      },
    },
    {
      method: 'POST', path: /^\/api\/v1\/clusters\/([^/]+)\/revoke$/, access: 'write',
      handle: async (_req, res, { params }) => {
        const cluster = decodeURIComponent(params[0] ?? '');
        try {
          const revoked = await registration.revoke(cluster);
          const tokensSpent = await registration.revokeTokens(cluster);
          const answer: RevokeAnswer = { cluster, revoked, tokensSpent };
          sendJson(res, 200, answer);
        } catch (err) {
          if (err instanceof RegistrationError) { sendJson(res, 400, { error: err.message }); return; }
          throw err;
        }
      },
    },
  ];
}
