import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

/** What a mint worker is asked for: `count` RS256 asset tokens, numbered from `first`. */
export interface MintJob {
  privatePem: string;
  kid: string;
  iss: string;
  aud: string;
  first: number;
  count: number;
  devices: number;
  nbf: number;
  exp: number;
  /** The device's public key (RFC 7800 cnf.jwk), as Salesforce puts it in every asset token. */
  deviceJwk: Record<string, string>;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Salesforce-shaped asset tokens (aud array, did, aid, id, nbf, exp, cnf; no sub), signed with node:crypto. */
export function mintTokens(job: MintJob): string[] {
  const key = createPrivateKey(job.privatePem);
  const header = b64({ kid: job.kid, typ: 'JWT', alg: 'RS256' });
  const out: string[] = [];
  for (let i = job.first; i < job.first + job.count; i++) {
    const device = i % job.devices;
    const did = `6ac9bc22-2a41-b85a-af76-${device.toString(16).padStart(12, '0')}`;
    const payload = b64({
      aud: [job.aud],
      nbf: job.nbf,
      iss: job.iss,
      cnf: { jwk: job.deviceJwk },
      id: `05b${i.toString(36).padStart(8, '0')}${randomBytes(4).toString('hex')}`,
      exp: job.exp,
      aid: `02i${device.toString(36).padStart(12, '0')}`,
      did,
    });
    const input = `${header}.${payload}`;
    out.push(`${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`);
  }
  return out;
}

if (parentPort && workerData) {
  parentPort.postMessage(mintTokens(workerData as MintJob));
}
