import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { parse as parseCookies } from 'cookie';
import type { CookieOptions, Request, Response } from 'express';
import type { RampartConfig } from '../../config/rampart-config.js';

/** `s:` marks a signed value; the signature is base64 HMAC-SHA256 without padding. */
const SIGNED_PREFIX = 's:';
/** 24 random bytes, 32 characters of base64url: as many bits as any session id needs. */
const ID_BYTES = 24;
/** Signed values whose signature this process has checked (bounded, oldest dropped). */
const VERIFIED_MEMORY = 10_000;
/** Cookie headers longer than this are parsed every time (keeps the header memory small). */
const REMEMBERED_HEADER_LENGTH = 256;

function remember(memory: Map<string, string>, key: string, id: string): void {
  if (memory.has(key)) return;
  memory.set(key, id);
  if (memory.size > VERIFIED_MEMORY) memory.delete(memory.keys().next().value as string);
}

/**
 * The session cookie: its name and flags, and the signed session id it carries. The value
 * format (`s:<id>.<HMAC-SHA256>`) is the one express-session used, so sessions of the
 * previous release stay valid across an upgrade. `__Host-` in production makes the browser
 * insist on Secure, Path=/ and no Domain, so a sibling subdomain cannot plant or shadow it.
 */
@Injectable()
export class SessionCookie {
  readonly name: string;
  readonly options: Pick<CookieOptions, 'httpOnly' | 'sameSite' | 'secure' | 'path'> & { sameSite: 'lax' };
  private readonly secret: string;
  /**
   * A browser sends the same cookie with every request: a value verified once needs no HMAC
   * again. Only values that passed are kept, so forged ones cannot fill it, and a hit needs
   * the whole genuine value. The session itself is still read from the store every time.
   */
  private readonly verified = new Map<string, string>();
  /**
   * The same by whole Cookie header (short ones only), so a browser's repeated header costs
   * one lookup instead of parsing and decoding every cookie in it. Only headers whose session
   * cookie verified are kept.
   */
  private readonly idByHeader = new Map<string, string>();

  constructor(@Inject(ConfigService) config: ConfigService<RampartConfig, true>) {
    const { isProduction } = config.get('app', { infer: true });
    this.secret = config.get('security', { infer: true }).sessionSecret;
    this.name = isProduction ? '__Host-sid' : 'sid';
    // No maxAge: a browser-session cookie; how long the session lives is the server's call.
    this.options = { httpOnly: true, sameSite: 'lax', secure: isProduction, path: '/' };
  }

  newId(): string {
    return randomBytes(ID_BYTES).toString('base64url');
  }

  /** The session id of a request's Cookie header, or null when absent, unsigned or forged. */
  idFrom(cookieHeader: string | undefined): string | null {
    // Requests outside a browser mostly carry no cookie at all; skip parsing then.
    if (cookieHeader === undefined || !cookieHeader.includes(this.name)) return null;
    const remembered = this.idByHeader.get(cookieHeader);
    if (remembered !== undefined) return remembered;
    const value = parseCookies(cookieHeader)[this.name];
    if (value === undefined) return null;
    const id = this.verified.get(value) ?? this.verify(value);
    if (id !== null) {
      remember(this.verified, value, id);
      if (cookieHeader.length <= REMEMBERED_HEADER_LENGTH) remember(this.idByHeader, cookieHeader, id);
    }
    return id;
  }

  /** Whether the Cookie header carries this cookie at all, valid or not. */
  carriedBy(cookieHeader: string | undefined): boolean {
    if (cookieHeader === undefined || !cookieHeader.includes(this.name)) return false;
    return parseCookies(cookieHeader)[this.name] !== undefined;
  }

  private verify(value: string): string | null {
    if (!value.startsWith(SIGNED_PREFIX)) return null;
    const dot = value.lastIndexOf('.');
    if (dot <= SIGNED_PREFIX.length) return null;
    const id = value.slice(SIGNED_PREFIX.length, dot);
    const given = Buffer.from(value.slice(dot + 1));
    const expected = Buffer.from(this.signature(id));
    return given.length === expected.length && timingSafeEqual(given, expected) ? id : null;
  }

  /**
   * Sets the cookie, unless it is Secure and the request did not arrive over HTTPS (as far as
   * TRUSTED_PROXIES lets us know): a browser would drop it anyway. False when not set.
   */
  set(req: Request, res: Response, id: string): boolean {
    if (!this.canSet(req)) return false;
    res.cookie(this.name, `${SIGNED_PREFIX}${id}.${this.signature(id)}`, this.options);
    return true;
  }

  /** False when the cookie is Secure and the request is not HTTPS: the browser would never send it back. */
  canSet(req: Request): boolean {
    return !this.options.secure || req.secure;
  }

  clear(res: Response): void {
    res.clearCookie(this.name, this.options);
  }

  private signature(id: string): string {
    return createHmac('sha256', this.secret).update(id).digest('base64').replace(/=+$/, '');
  }
}
