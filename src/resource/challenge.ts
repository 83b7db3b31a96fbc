/** RFC 6750 §3 challenges: `Bearer realm="x"` alone when no credentials came, else with error. */
export function bearerChallenge(realm: string, error?: { code: string; description: string }): string {
  let challenge = `Bearer realm="${realm}"`;
  if (error) {
    // error_description is a quoted-string of %x20-21 / %x23-5B / %x5D-7E (RFC 6750 §3).
    const description = error.description.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '');
    challenge += `, error="${error.code}", error_description="${description}"`;
  }
  return challenge;
}
