import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { StoreHealth } from '../tokens/store.js';

/** GET /healthz: the process is up. */
export function healthz(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { status: 'ok' };
}

/**
 * The keyspace's schema version as stored, and the one this build needs. Redis that restarted
 * empty (no persistence, a failover to an empty replica, a FLUSHALL) has lost the schema key with
 * every token, mark and revocation: the server must not stay ready on it.
 */
export interface KeyspaceCheck {
  stored(): Promise<number>;
  expected: number;
}

/**
 * GET /readyz: 503 while the store cannot be reached or its keyspace is not the one this build
 * needs. A keyspace that goes wrong under a running server is logged once, when it goes.
 */
export function readyz(store: StoreHealth, logger: Logger, keyspace?: KeyspaceCheck) {
  let keyspaceWrong = false;
  const unavailable = (ctx: Context, body: Record<string, string>) => {
    ctx.status = 503;
    ctx.set('Retry-After', '1');
    ctx.body = { status: 'unavailable', ...body };
  };
  return async function readyzMiddleware(ctx: Context): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    let stored: number | undefined;
    try {
      // The schema read reaches Redis too: one round trip answers both questions.
      if (keyspace) stored = await keyspace.stored();
      else await store.ping();
    } catch {
      return unavailable(ctx, { store: 'unreachable' });
    }
    if (keyspace && stored !== keyspace.expected) {
      if (!keyspaceWrong) {
        logger.error(
          { storedSchemaVersion: stored, expectedSchemaVersion: keyspace.expected },
          'Redis keyspace schema is not the one this build needs (emptied or changed under the running server): not ready until it is migrated',
        );
      }
      keyspaceWrong = true;
      return unavailable(ctx, { keyspace: 'schema_mismatch' });
    }
    if (keyspaceWrong) logger.info('Redis keyspace schema is current again: ready');
    keyspaceWrong = false;
    ctx.body = { status: 'ready' };
  };
}
