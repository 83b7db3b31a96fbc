import type { Clock } from '../clock.js';
import type { AccessTokenHandle } from './access-token.js';
import { deviceTag, digest, issuerKey } from './keys.js';
import type {
  AccessTokenRecord,
  AssertionUse,
  ConsumeOutcome,
  Device,
  DpopProofUse,
  NewAccessToken,
  TokenStore,
} from './store.js';

/** A device's marks: its tag and issuer key, as an access token of it names them (keys.ts). */
const deviceMark = (device: Device): string => `${deviceTag(device.subject)}:${issuerKey(device.iss)}`;

/**
 * The embedded development store: same contract as the Redis store (the shared contract suite runs
 * against both), single process, nothing persisted. Never used in production (config refuses).
 */
export class MemoryTokenStore implements TokenStore {
  private readonly uses = new Map<string, number>();
  private readonly proofs = new Map<string, number>();
  private readonly tokens = new Map<string, AccessTokenRecord>();
  private readonly revokedBefore = new Map<string, number>();
  private readonly notBefore = new Map<string, number>();
  private ops = 0;

  constructor(private readonly clock: Clock) {}

  private useKey(use: AssertionUse): string {
    return `${use.subject}\n${digest(`${use.iss}\n${use.jti}`)}`;
  }

  private sweep(now: number): void {
    if (++this.ops % 1000 !== 0) return;
    for (const [k, until] of this.uses) if (until <= now) this.uses.delete(k);
    for (const [k, until] of this.proofs) if (until <= now) this.proofs.delete(k);
    for (const [k, r] of this.tokens) if (r.exp <= now) this.tokens.delete(k);
  }

  async consumeAssertion(use: AssertionUse, token?: NewAccessToken): Promise<ConsumeOutcome> {
    const now = this.clock.now();
    this.sweep(now);
    const nb = this.notBefore.get(deviceMark(use));
    if (nb !== undefined && (use.issuedAtMs === undefined || use.issuedAtMs < nb)) return 'device_blocked';
    const key = this.useKey(use);
    const until = this.uses.get(key);
    if (until !== undefined && until > now) return 'replayed';
    this.uses.set(key, Math.max(now + 1000, use.forgetAtMs));
    if (token) this.tokens.set(token.handle.hash, { ...token.record });
    return 'accepted';
  }

  /** Unexpired access tokens (for the live-tokens gauge; O(n), scrape time only). */
  liveAccessTokens(): number {
    const now = this.clock.now();
    let n = 0;
    for (const r of this.tokens.values()) if (r.exp > now) n += 1;
    return n;
  }

  async releaseAssertion(use: AssertionUse): Promise<void> {
    this.uses.delete(this.useKey(use));
  }

  async consumeDpopProof(proof: DpopProofUse): Promise<'accepted' | 'replayed'> {
    const now = this.clock.now();
    this.sweep(now);
    const key = digest(`${proof.jkt}\n${proof.jti}`);
    const until = this.proofs.get(key);
    if (until !== undefined && until > now) return 'replayed';
    this.proofs.set(key, Math.max(now + 1000, proof.forgetAtMs));
    return 'accepted';
  }

  async findAccessToken(handle: AccessTokenHandle): Promise<AccessTokenRecord | null> {
    const record = this.tokens.get(handle.hash);
    if (!record) return null;
    if (record.exp <= this.clock.now()) {
      this.tokens.delete(handle.hash);
      return null;
    }
    const rb = this.revokedBefore.get(`${handle.tag}:${handle.issuer ?? ''}`);
    if (rb !== undefined && record.iat <= rb) return null;
    return { ...record };
  }

  async revokeAccessToken(handle: AccessTokenHandle): Promise<void> {
    this.tokens.delete(handle.hash);
  }

  async revokeDevice(device: Device, atMs: number, blockAssetTokensBeforeMs?: number): Promise<void> {
    const tag = deviceMark(device);
    this.revokedBefore.set(tag, Math.max(atMs, this.revokedBefore.get(tag) ?? 0));
    if (blockAssetTokensBeforeMs !== undefined) {
      this.notBefore.set(tag, Math.max(blockAssetTokensBeforeMs, this.notBefore.get(tag) ?? 0));
    }
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
