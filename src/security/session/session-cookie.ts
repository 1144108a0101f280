import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { CookieOptions } from 'express';
import type { RampartConfig } from '../../config/rampart-config.js';

/**
 * The session cookie's name and flags. `__Host-` in production makes the browser insist on
 * Secure, Path=/ and no Domain, so a sibling subdomain cannot plant or shadow it.
 */
@Injectable()
export class SessionCookie {
  readonly name: string;
  readonly options: Pick<CookieOptions, 'httpOnly' | 'sameSite' | 'secure' | 'path'> & { sameSite: 'lax' };

  constructor(@Inject(ConfigService) config: ConfigService<RampartConfig, true>) {
    const { isProduction } = config.get('app', { infer: true });
    this.name = isProduction ? '__Host-sid' : 'sid';
    // No maxAge: a browser-session cookie; how long the session lives is the server's call.
    this.options = { httpOnly: true, sameSite: 'lax', secure: isProduction, path: '/' };
  }
}
