import { isIP } from 'node:net';
import type { Express, Request } from 'express';
import type { TrustFn } from './trusted-proxies.js';

/**
 * More hops than any real proxy chain has. Walking stops there, at the last trusted hop, so a
 * header stuffed with thousands of trusted-looking entries costs a bounded amount of work.
 */
export const MAX_FORWARDED_HOPS = 16;

const MAPPED_V4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;
const V4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const BRACKETED_V6 = /^\[([^\]]+)\](?::\d{1,5})?$/;

/**
 * One canonical spelling per address, so a client cannot get a fresh rate-limit bucket by
 * writing the same address differently: `::ffff:1.2.3.4` and `::FFFF:102:304` become
 * `1.2.3.4`, IPv6 is compressed and lower-cased, a zone id or a port is dropped.
 * Anything that is not a plain IPv4/IPv6 literal (Node's strict `isIP`, so no `127.1` or
 * `0x7f.0.0.1` forms) is null.
 */
export function normalizeAddress(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  let value = raw.trim();
  if (value.length === 0 || value.length > 64) return null;
  const bracketed = BRACKETED_V6.exec(value);
  if (bracketed) value = bracketed[1] as string;
  else {
    const withPort = V4_WITH_PORT.exec(value);
    if (withPort) value = withPort[1] as string;
  }
  const zone = value.indexOf('%');
  if (zone !== -1) value = value.slice(0, zone);
  const version = isIP(value);
  if (version === 4) return value;
  if (version !== 6) return null;
  // The WHATWG URL parser is the standard's canonical IPv6 serialiser (RFC 5952 form).
  const canonical = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  const mapped = MAPPED_V4.exec(canonical);
  if (!mapped) return canonical;
  const high = parseInt(mapped[1] as string, 16);
  const low = parseInt(mapped[2] as string, 16);
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * The client address of CONTRACT.md "Rate limits": the socket peer, unless the peer is a
 * trusted proxy; then X-Forwarded-For is walked from the right (the entry the nearest proxy
 * appended) past trusted proxies, and the first untrusted address is the client. The leftmost
 * entry is whatever the client wrote and is only reached when every hop after it is trusted.
 *
 * A malformed or over-long chain stops the walk at the last trusted hop: its address is the
 * key, never a string the client chose. Empty list elements are skipped (RFC 9110 5.6.1);
 * repeated X-Forwarded-For headers arrive joined by Node, in order, and are walked as one list.
 */
export function resolveClientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, trust: TrustFn): string {
  let client = normalizeAddress(peer);
  if (client === null) return 'unknown';
  if (!trust(client, 0)) return client;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  if (!header) return client;
  let end = header.length;
  let hop = 1;
  while (end > 0) {
    const comma = header.lastIndexOf(',', end - 1);
    const entry = header.slice(comma + 1, end);
    end = comma === -1 ? 0 : comma;
    if (entry.trim() === '') continue;
    if (hop > MAX_FORWARDED_HOPS) return client;
    const address = normalizeAddress(entry);
    if (address === null) return client;
    client = address;
    if (!trust(address, hop)) return address;
    hop += 1;
  }
  return client;
}

const CLIENT_IP = Symbol('rampart.clientIp');
type ClientIpCache = { [CLIENT_IP]?: string };

/**
 * Makes Express agree with us everywhere: `trust proxy` gets the compiled list (so
 * `req.protocol`, `req.secure` and `req.hostname` believe the same proxies), and `req.ip` is
 * replaced on this app's request prototype by {@link resolveClientIp}, computed on first read
 * and cached on the request, so a request nobody asks about pays nothing.
 */
export function installClientIp(app: Express, trust: TrustFn): void {
  app.set('trust proxy', trust);
  Object.defineProperty(app.request, 'ip', {
    configurable: true,
    enumerable: true,
    get(this: Request & ClientIpCache): string {
      this[CLIENT_IP] ??= resolveClientIp(this.socket?.remoteAddress, this.headers['x-forwarded-for'], trust);
      return this[CLIENT_IP];
    },
  });
}
