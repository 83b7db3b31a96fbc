/** Time comes from here, so expiry and skew are tested without sleeping. Milliseconds since epoch. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const toSeconds = (ms: number): number => Math.floor(ms / 1000);

/** Leeway for exp / nbf / iat when nothing else is configured (CLOCK_SKEW_SECONDS, the guard's skewSeconds). */
export const DEFAULT_CLOCK_SKEW_SECONDS = 30;
