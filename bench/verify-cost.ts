/**
 * What one RS256 signature check costs through jose against Node's own `crypto.verify` on the same
 * tokens and key (`node dist/bench/verify-cost.js`): jose 6 verifies through WebCrypto, which on
 * Node runs each check as an asynchronous job; `crypto.verify` is one synchronous OpenSSL call. Both
 * run in the same process, interleaved, and the result is a ratio (the machine is shared and noisy).
 * Settings (env): VERIFY_TOKENS (2000 distinct tokens), VERIFY_ROUNDS (3).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { compactVerify, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';

const count = Number(process.env.VERIFY_TOKENS ?? 2000);
const rounds = Number(process.env.VERIFY_ROUNDS ?? 3);

type Check = (token: string) => unknown;

/** CPU microseconds per check over every token, after one warm-up pass. */
async function cpuPerCheck(tokens: readonly string[], check: Check): Promise<number> {
  for (const t of tokens) await check(t);
  const start = process.cpuUsage();
  for (const t of tokens) await check(t);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / tokens.length;
}

function nodeCheck(key: KeyObject): Check {
  return (token) => {
    const dot = token.lastIndexOf('.');
    if (!verify('sha256', Buffer.from(token.slice(0, dot)), key, Buffer.from(token.slice(dot + 1), 'base64url'))) throw new Error('bad signature');
  };
}

async function main(): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    // The shape of an asset token: a device key in cnf.jwk makes it about 1 KB.
    const claims = { iss: 'https://issuer.example', aud: ['https://assetgate.example'], id: `t${i}`, did: 'd'.repeat(36), aid: 'a'.repeat(18), cnf: { jwk } };
    tokens.push(await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('1h').sign(privateKey));
  }
  const joseKey = await importJWK({ ...jwk, alg: 'RS256' }, 'RS256');
  const joseCheck: Check = (token) => compactVerify(token, joseKey);
  const node = nodeCheck(createPublicKey({ key: jwk, format: 'jwk' }));
  const jose: number[] = [];
  const native: number[] = [];
  for (let r = 0; r < rounds; r++) {
    jose.push(await cpuPerCheck(tokens, joseCheck));
    native.push(await cpuPerCheck(tokens, node));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const j = median(jose);
  const n = median(native);
  process.stdout.write(`RS256 check, CPU per token (median of ${rounds} rounds, ${count} tokens of ${tokens[0]!.length} characters):\n`);
  process.stdout.write(`  jose compactVerify (WebCrypto): ${j.toFixed(1)} us\n  node:crypto verify:             ${n.toFixed(1)} us\n  jose / node:crypto:             ${(j / n).toFixed(2)}x\n`);
}

await main();
