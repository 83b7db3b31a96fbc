import type { GrantHandler } from './grant.js';

export type GrantRegistry = ReadonlyMap<string, GrantHandler>;

export const grantRegistry = (handlers: GrantHandler[]): GrantRegistry => new Map(handlers.map((h) => [h.grantType, h]));
