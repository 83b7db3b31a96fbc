import type { Cluster, Redis } from 'ioredis';
import { idTime, IngestLayout, type PartitionKeys } from './partitions.js';

/**
 * The Lua scripts of one partition. Every key a script touches carries the partition's hash tag, so
 * each runs atomically on the partition's master (Cluster-safe). Redis 7.0 has no trimming that
 * keeps unacknowledged entries (8.2's XADD/XTRIM ... ACKED, XACKDEL), so trimming is by MINID:
 * everything older than the oldest entry the consumer group still needs, which is its oldest
 * pending entry, or, with none pending, the first entry after its last-delivered id. An entry that
 * was answered 202 is therefore never trimmed before the group acknowledged it.
 *
 * The byte budget needs the size of what a trim removed without reading the removed entries back
 * (a 1 MiB body each): a list of entry sizes is pushed in step with the stream, and a trim that
 * removed k entries pops k sizes.
 */
const GROUP_STATE = `
local function groupState(stream, group)
  if redis.call('EXISTS', stream) == 0 then return nil end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    if f['name'] == group then return f end
  end
  return nil
end
local function neededFrom(stream, group, g)
  if g['pending'] > 0 then return redis.call('XPENDING', stream, group)[2] end
  local last = g['last-delivered-id']
  local dash = string.find(last, '-', 1, true)
  return string.sub(last, 1, dash) .. string.format('%d', tonumber(string.sub(last, dash + 1)) + 1)
end
`;

const TRIM = `
local function trim(stream, bytesKey, sizesKey, group)
  local g = groupState(stream, group)
  if not g then return 0 end
  local removed = redis.call('XTRIM', stream, 'MINID', neededFrom(stream, group, g))
  if removed > 0 then
    local sizes = redis.call('LPOP', sizesKey, removed)
    local freed = 0
    if sizes then for _, s in ipairs(sizes) do freed = freed + tonumber(s) end end
    redis.call('DECRBY', bytesKey, freed)
  end
  local len = redis.call('XLEN', stream)
  if len == 0 then
    redis.call('DEL', bytesKey, sizesKey)
  elseif redis.call('LLEN', sizesKey) > len then
    redis.call('LTRIM', sizesKey, -len, -1)
  end
  return removed
end
`;

/**
 * Admission and append in one step. Refusals: 1 backlog entries, 2 backlog bytes, 3 device events,
 * 4 device bytes, with the ms until the device's window ends. A full partition is trimmed once
 * before it refuses (consumers may have acknowledged since the last trim).
 * KEYS: 1 stream, 2 bytes, 3 sizes, 4 device window
 * ARGV: 1 group, 2 backlog entries, 3 backlog bytes, 4 device events (0 off), 5 device bytes (0 off),
 *       6 window ms, 7.. field, value
 */
const APPEND_SCRIPT = `${GROUP_STATE}${TRIM}
local size = 0
for i = 8, #ARGV, 2 do size = size + #ARGV[i] end
local maxN, maxB = tonumber(ARGV[4]), tonumber(ARGV[5])
if maxN > 0 or maxB > 0 then
  local used = redis.call('HMGET', KEYS[4], 'n', 'b')
  local why = 0
  if maxN > 0 and (tonumber(used[1]) or 0) + 1 > maxN then why = 3 end
  if maxB > 0 and (tonumber(used[2]) or 0) + size > maxB then why = 4 end
  if why > 0 then
    local ttl = redis.call('PTTL', KEYS[4])
    if ttl < 0 then ttl = tonumber(ARGV[6]) end
    return {why, ttl}
  end
end
local function full()
  if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 1 end
  if (tonumber(redis.call('GET', KEYS[2])) or 0) + size > tonumber(ARGV[3]) then return 2 end
  return 0
end
local why = full()
if why > 0 then
  trim(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
  why = full()
  if why > 0 then return {why, 0} end
end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 7))
redis.call('INCRBY', KEYS[2], size)
redis.call('RPUSH', KEYS[3], size)
if maxN > 0 or maxB > 0 then
  if redis.call('HINCRBY', KEYS[4], 'n', 1) == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[6]) end
  redis.call('HINCRBY', KEYS[4], 'b', size)
end
return id
`;

/** Trims what the group acknowledged. KEYS: 1 stream, 2 bytes, 3 sizes. ARGV: 1 group. Returns entries removed. */
const TRIM_SCRIPT = `${GROUP_STATE}${TRIM}
return trim(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
`;

/**
 * Sets a poison entry aside: copies it to the dead-letter stream and acknowledges it, only if it is
 * still pending (another consumer may have acknowledged it meanwhile). The original stays until
 * trimmed, so the byte budget's sizes stay in step.
 * KEYS: 1 stream, 2 dead letters. ARGV: 1 group, 2 id, 3 deliveries. Returns 1 when moved.
 */
const DEAD_LETTER_SCRIPT = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then return 0 end
local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #e > 0 then
  local fields = e[1][2]
  table.insert(fields, 'origin')
  table.insert(fields, ARGV[2])
  table.insert(fields, 'deliveries')
  table.insert(fields, ARGV[3])
  redis.call('XADD', KEYS[2], '*', unpack(fields))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * One partition's state, read-only. KEYS: 1 stream, 2 bytes, 3 dead letters. ARGV: 1 group.
 * Returns {length, bytes, dead letters, pending, undelivered (-1: unknown), oldest unacknowledged id or ''}.
 */
const STATUS_SCRIPT = `${GROUP_STATE}
local len = redis.call('XLEN', KEYS[1])
local bytes = tonumber(redis.call('GET', KEYS[2])) or 0
local dl = redis.call('XLEN', KEYS[3])
local g = groupState(KEYS[1], ARGV[1])
if not g then return {len, bytes, dl, 0, len, ''} end
local undelivered = tonumber(g['lag']) or -1
local oldest = ''
local first = redis.call('XRANGE', KEYS[1], neededFrom(KEYS[1], ARGV[1], g), '+', 'COUNT', 1)
if #first > 0 then oldest = first[1][1] end
return {len, bytes, dl, g['pending'], undelivered, oldest}
`;

type ScriptReply = string | number | Array<string | number>;

/** A connection with the partition scripts defined (ioredis sends EVALSHA, EVAL on a script cache miss). */
export type IngestScripts = (Redis | Cluster) & {
  agIngestAppend(stream: string, bytes: string, sizes: string, device: string, ...args: string[]): Promise<ScriptReply>;
  agIngestTrim(stream: string, bytes: string, sizes: string, group: string): Promise<number>;
  agIngestDeadLetter(stream: string, deadLetters: string, group: string, id: string, deliveries: string): Promise<number>;
  agIngestStatus(stream: string, bytes: string, deadLetters: string, group: string): Promise<Array<string | number>>;
};

export function withIngestScripts(redis: Redis | Cluster): IngestScripts {
  if (!('agIngestAppend' in redis)) {
    redis.defineCommand('agIngestAppend', { numberOfKeys: 4, lua: APPEND_SCRIPT });
    redis.defineCommand('agIngestTrim', { numberOfKeys: 3, lua: TRIM_SCRIPT });
    redis.defineCommand('agIngestDeadLetter', { numberOfKeys: 2, lua: DEAD_LETTER_SCRIPT });
    redis.defineCommand('agIngestStatus', { numberOfKeys: 3, lua: STATUS_SCRIPT });
  }
  return redis as IngestScripts;
}

/** One partition's state as STATUS_SCRIPT reads it. */
export interface PartitionStatus {
  partition: number;
  /** Entries in the stream (acknowledged ones not yet trimmed included). */
  length: number;
  /** Payload bytes retained (the byte budget's count). */
  bytes: number;
  /** Entries not yet acknowledged: pending plus never delivered. */
  backlog: number;
  pending: number;
  deadLetters: number;
  /** Id of the oldest entry the group still needs, or undefined when it needs none. */
  oldestUnacknowledged: string | undefined;
  /** When that entry was added (ms since epoch, from its id). */
  oldestUnacknowledgedAt: number | undefined;
}

export async function partitionStatus(redis: IngestScripts, p: PartitionKeys, group: string): Promise<PartitionStatus> {
  const [length, bytes, deadLetters, pending, undelivered, oldest] = await redis.agIngestStatus(p.stream, p.bytes, p.deadLetters, group);
  const n = (v: string | number | undefined) => Number(v ?? 0);
  // The group's lag is unknown to Redis after some deletions: every retained entry may be unread then.
  const backlog = n(undelivered) < 0 ? n(length) : n(pending) + n(undelivered);
  return {
    partition: p.index,
    length: n(length),
    bytes: n(bytes),
    backlog,
    pending: n(pending),
    deadLetters: n(deadLetters),
    oldestUnacknowledged: oldest ? String(oldest) : undefined,
    oldestUnacknowledgedAt: oldest ? idTime(String(oldest)) : undefined,
  };
}

/** Every partition's state, read in parallel (one script per partition, on its own master). */
export function layoutStatus(redis: IngestScripts, layout: IngestLayout, group: string): Promise<PartitionStatus[]> {
  return Promise.all(layout.partitions.map((p) => partitionStatus(redis, p, group)));
}

/** The partition count the keyspace was set up with (migration 3); undefined before it. */
export async function storedPartitionCount(redis: Redis | Cluster, keyPrefix: string, streamName: string): Promise<number | undefined> {
  const stored = await redis.get(new IngestLayout(keyPrefix, streamName, 1).layoutKey);
  return stored === null ? undefined : Number(stored);
}

/** The layout consumers and tools read: the keyspace's own partition count. */
export async function openLayout(redis: Redis | Cluster, keyPrefix = 'ag:', streamName = 'ingest'): Promise<IngestLayout> {
  const count = await storedPartitionCount(redis, keyPrefix, streamName);
  if (count === undefined) throw new Error(`no ingest partitions under "${keyPrefix}${streamName}": run \`assetgate migrate\` first`);
  return new IngestLayout(keyPrefix, streamName, count);
}
