/** RFC 9449 identifiers, one source of truth. */
export const DPOP_HEADER = 'dpop'; // §4.1 request header (lower case: Node's header keys)
export const DPOP_NONCE_HEADER = 'DPoP-Nonce'; // §8.1
export const DPOP_JWT_TYPE = 'dpop+jwt'; // §4.2 `typ`
export const TOKEN_TYPE_DPOP = 'DPoP'; // §5 token_type of a bound access token
export const TOKEN_TYPE_BEARER = 'Bearer';

/** Asymmetric algorithms a proof may use (§4.2: never `none`, never a MAC). */
export const DPOP_ALLOWED_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519'];
export const DEFAULT_DPOP_ALGORITHMS = ['ES256', 'RS256', 'PS256', 'EdDSA'];
/** How old a proof's iat may be, on top of the clock skew, when nothing else is configured. */
export const DEFAULT_DPOP_IAT_WINDOW_SECONDS = 60;

/** A proof holds one public key and a few claims; anything larger is not a proof. */
export const DPOP_PROOF_MAX_BYTES = 8 * 1024;

/** JWK members that only private (or symmetric) keys carry (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
