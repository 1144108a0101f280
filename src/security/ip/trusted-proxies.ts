import proxyAddr from 'proxy-addr';

/** Whether the hop at `address` may speak for the client (its X-Forwarded-For entries are believed). */
export type TrustFn = (address: string, hop: number) => boolean;

/** `TRUSTED_PROXIES=none` trusts no one: the socket peer is always the client. */
const NONE = 'none';

/**
 * Compiles the `TRUSTED_PROXIES` list (CIDRs, single addresses, and proxy-addr's names
 * `loopback`, `linklocal`, `uniquelocal`) once, so each request only runs a subnet match.
 */
export function compileTrustedProxies(entries: readonly string[]): TrustFn {
  const list = entries.map((entry) => entry.trim()).filter((entry) => entry !== '' && entry.toLowerCase() !== NONE);
  return proxyAddr.compile(list);
}

/** Why the list cannot be compiled, naming the bad entry; null when it is fine. Not a secret, so it is echoed. */
export function trustedProxiesProblem(entries: readonly string[]): string | null {
  for (const entry of entries) {
    try {
      compileTrustedProxies([entry]);
    } catch {
      return `TRUSTED_PROXIES is invalid: "${entry.slice(0, 64)}" is not an address, a CIDR range, loopback, linklocal, uniquelocal or none`;
    }
  }
  return null;
}

/** The compiled `TRUSTED_PROXIES` list, shared by `req.ip`, rate limits and the metrics access rule. */
export class TrustedProxies {
  readonly trust: TrustFn;

  constructor(entries: readonly string[]) {
    this.trust = compileTrustedProxies(entries);
  }
}
