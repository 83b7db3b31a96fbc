import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { AccessTokenHandle } from './access-token.js';
import type { RedisConnection } from './redis-client.js';
import type { AccessTokenRecord, AccessTokenStore } from './store.js';

/**
 * Revocation notices between instances (Redis pub/sub). `t:<token hash>` for one token (RFC 7009),
 * `d:<device tag>` for a device-wide revocation. Plain PUBLISH / SUBSCRIBE, which Redis Cluster
 * broadcasts to every node (sharded pub/sub would need a subscription per slot).
 */
export const revocationChannel = (keyPrefix: string): string => `${keyPrefix}revocations`;
export const tokenRevokedNotice = (handle: AccessTokenHandle): string => `t:${handle.hash}`;
export const deviceRevokedNotice = (tag: string): string => `d:${tag}`;

export interface LookupCacheOptions {
  /** Longest time a cached lookup is used: the staleness bound when a notice is lost. */
  ttlMs: number;
  maxEntries: number;
  clock: Clock;
}

interface Entry {
  record: AccessTokenRecord;
  tag: string;
}

/**
 * An in-process cache in front of the store's access-token lookup (resource routes only; off by
 * default, RESOURCE_CACHE_TTL_MS). Bounded size (LRU) and bounded staleness:
 * - a revocation on any instance publishes a notice; every subscribed instance drops the entry (or
 *   the device's entries) on receipt: normally within a pub/sub delivery (well under a millisecond
 *   on a LAN);
 * - while the subscription is not established (start-up, Redis away) the cache is bypassed, and on
 *   every (re)subscription it is emptied, since notices may have been missed meanwhile;
 * - a notice lost anyway (e.g. the connection broke just after PUBLISH) is covered by ttlMs: no
 *   entry is used longer than that after it was read from Redis.
 * Unknown tokens are never cached (a revocation cannot make a dead token live; an exchange makes a
 * new token with a new hash), and a record past its exp is never served.
 */
export class LookupCache {
  private readonly entries: LRUCache<string, Entry>;
  private live = false;
  /** Bumped by every notice: a lookup that was in flight across a notice does not fill the cache. */
  private generation = 0;

  constructor(
    private readonly options: LookupCacheOptions,
  ) {
    this.entries = new LRUCache<string, Entry>({ max: options.maxEntries, ttl: options.ttlMs, ttlAutopurge: false, perf: { now: () => options.clock.now() } });
  }

  /** Subscribes to the revocation channel on a connection of its own; resolves once subscribed. */
  async subscribe(subscriber: RedisConnection, keyPrefix: string): Promise<void> {
    const channel = revocationChannel(keyPrefix);
    subscriber.on('message', (ch: string, message: string) => {
      if (ch === channel) this.onNotice(message);
    });
    await subscriber.subscribe(channel);
    this.live = true;
    // ioredis resubscribes after a reconnect before 'ready'; notices sent while away are lost: start empty.
    subscriber.on('ready', () => {
      this.generation += 1;
      this.entries.clear();
      this.live = true;
    });
    const down = () => {
      this.live = false;
      this.generation += 1;
      this.entries.clear();
    };
    subscriber.on('close', down);
    subscriber.on('end', down);
  }

  onNotice(message: string): void {
    this.generation += 1;
    if (message.startsWith('t:')) this.entries.delete(message.slice(2));
    else if (message.startsWith('d:')) {
      const tag = message.slice(2);
      for (const [hash, entry] of this.entries.entries()) if (entry.tag === tag) this.entries.delete(hash);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** A store whose findAccessToken goes through this cache; everything else goes straight through. */
  wrap(store: AccessTokenStore): AccessTokenStore {
    const clock = this.options.clock;
    return {
      findAccessToken: (handle) => this.find(store, handle, clock),
      revokeAccessToken: async (handle) => {
        this.entries.delete(handle.hash);
        await store.revokeAccessToken(handle);
      },
    };
  }

  private async find(store: AccessTokenStore, handle: AccessTokenHandle, clock: Clock): Promise<AccessTokenRecord | null> {
    if (!this.live) return store.findAccessToken(handle);
    const hit = this.entries.get(handle.hash);
    if (hit && hit.tag === handle.tag) {
      if (hit.record.exp > clock.now()) return { ...hit.record };
      this.entries.delete(handle.hash);
      return null;
    }
    const generation = this.generation;
    const record = await store.findAccessToken(handle);
    if (record && this.live && generation === this.generation) this.entries.set(handle.hash, { record: { ...record }, tag: handle.tag });
    return record;
  }
}
