import type { Context, Next } from 'koa';
import type { RedisConnection } from '../tokens/redis-client.js';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { MissingCredentials, OAuthError, TooManyRequests } from '../oauth/errors.js';
import { digest } from '../tokens/keys.js';
import type { Device } from '../tokens/store.js';
import type { Clock } from '../clock.js';
import { limitKeysOf, type LimitKey, type Refusal } from '../redemption/refusals.js';
import { clientAddressKey } from './client-address.js';

/**
 * Brute force and credential-stuffing brake: refusals are counted against the client address or the
 * device as the refusal table decides (redemption/refusals.ts), by who can cause them: neither a
 * forger naming a device nor a holder of its captured tokens can get its fresh tokens refused, and
 * stale tokens of honest devices do not count against the address they share. Successful
 * exchanges cost nothing: failures are counted in Redis (shared by every instance), and the count a
 * failure returns decides a block that each instance keeps in its own memory until the window ends.
 * The up-front checks read only that memory, so an honest request makes no Redis call for the
 * limits; an attacker spreading over N instances gets at most one more failure on each before it is
 * blocked there too.
 */
export interface FailureLimits {
  /** Throws TooManyRequests while this client address is over its limit. */
  checkClient(ip: string): Promise<void>;
  /** Throws TooManyRequests while this device (issuer and id) is over its limit. */
  checkDevice(device: Device): Promise<void>;
  /**
   * Counts one refusal against the limits the refusal table names (refusals.ts): the client address,
   * and the device when the refusal names a verified one.
   */
  charge(refusal: Refusal, who: { client: string; device: Device | undefined }): Promise<void>;
}

export interface FailureLimitSettings {
  perClient: number;
  perDevice: number;
  windowSeconds: number;
}

export const noFailureLimits: FailureLimits = {
  async checkClient() {},
  async checkDevice() {},
  async charge() {},
};

/**
 * Redis-backed when a client is given (shared by every instance), in memory otherwise. The counts
 * live in the limiter's own window (Redis PX, or the memory limiter's timers); the blocks it decides
 * are kept and lifted on `clock`.
 */
export function createFailureLimits(
  settings: FailureLimitSettings,
  logger: Logger,
  clock: Clock,
  redis?: { client: RedisConnection; keyPrefix: string },
): FailureLimits {
  const limiter = (name: string, points: number): RateLimiterAbstract | undefined => {
    if (points === 0) return undefined;
    const base = { points, duration: settings.windowSeconds };
    if (!redis) return new RateLimiterMemory(base);
    return new RateLimiterRedis({
      ...base,
      storeClient: redis.client,
      keyPrefix: `${redis.keyPrefix}rl:${name}`,
      // While Redis is away, count in this process instead of failing the request (the store
      // answers 503 on its own where it is needed).
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory(base),
    });
  };
  const limiters: Record<LimitKey, RateLimiterAbstract | undefined> = {
    client: limiter('ip', settings.perClient),
    device: limiter('dev', settings.perDevice),
  };

  // key -> ms until which it is blocked; bounded, so a flood of keys cannot grow it without end.
  const blocked = new LRUCache<string, number>({ max: 100_000 });

  function check(l: RateLimiterAbstract | undefined, key: string, what: string): Promise<void> {
    if (!l) return Promise.resolve();
    const until = blocked.get(`${l.keyPrefix}:${key}`);
    const now = clock.now();
    if (until !== undefined && until > now) {
      return Promise.reject(new TooManyRequests(`too many failed attempts ${what}, retry later`, (until - now) / 1000));
    }
    return Promise.resolve();
  }
  async function count(l: RateLimiterAbstract | undefined, key: string): Promise<void> {
    if (!l) return;
    try {
      const res = await l.penalty(key);
      if (res.consumedPoints >= l.points) blocked.set(`${l.keyPrefix}:${key}`, clock.now() + res.msBeforeNext);
    } catch (err) {
      logger.warn({ err }, 'failure limiter unavailable');
    }
  }
  // Addresses count per IPv6 /64 (clientAddressKey). A device is its issuer plus its id: issuer B's
  // tokens naming A's device id count against B's device only. Hashed: keys of bounded length
  // whatever the token carried.
  const deviceKey = (device: Device): string => digest(`${device.iss}\n${device.subject}`);
  const idOf = (key: LimitKey, who: { client: string; device: Device | undefined }): string | undefined =>
    key === 'client' ? clientAddressKey(who.client) : who.device === undefined ? undefined : deviceKey(who.device);
  return {
    checkClient: (ip) => check(limiters.client, clientAddressKey(ip), 'from this client'),
    checkDevice: (device) => check(limiters.device, deviceKey(device), 'for this device'),
    async charge(refusal, who) {
      const counts: Promise<void>[] = [];
      for (const key of limitKeysOf(refusal)) {
        const id = idOf(key, who);
        if (id !== undefined) counts.push(count(limiters[key], id));
      }
      await Promise.all(counts);
    },
  };
}

/** Token endpoint errors that count against the limits: not "no credentials", not the 429 itself, not a 5xx. */
const isRefusal = (err: unknown): err is OAuthError =>
  err instanceof OAuthError && err.status >= 400 && err.status < 500 && !(err instanceof TooManyRequests) && !(err instanceof MissingCredentials);

/** What a failed request is charged with: the refusal and the verified device it names, if any. */
export type Charge = { refusal: Refusal; device: Device | undefined } | undefined;

/**
 * Middleware: refuse an over-limit client address up front (from memory: cheap), then charge what
 * `chargeOf` makes of a failure of the rest of the pipeline (undefined: nothing).
 */
export function limitFailures(limits: Pick<FailureLimits, 'checkClient' | 'charge'>, chargeOf: (err: unknown) => Charge) {
  return async function limitFailuresMiddleware(ctx: Context, next: Next): Promise<void> {
    await limits.checkClient(ctx.ip);
    try {
      await next();
    } catch (err) {
      const charge = chargeOf(err);
      if (charge) await limits.charge(charge.refusal, { client: ctx.ip, device: charge.device });
      throw err;
    }
  };
}

/**
 * The token endpoint's limit: a refused redemption says what it was (err.refusal); anything else
 * refused here (form, grant type, parameters) was refused before any token was read.
 */
export const limitFailedExchanges = (limits: FailureLimits) =>
  limitFailures(limits, (err) => (isRefusal(err) ? { refusal: err.refusal ?? REQUEST_REFUSAL, device: err.device } : undefined));

const REQUEST_REFUSAL: Refusal = { of: 'request' };
