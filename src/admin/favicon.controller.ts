import { Controller, Get, Header, HttpCode } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators.js';

/** A shield in the console's colours; an SVG served from our origin satisfies `img-src 'self'`. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2 4 6v9c0 7.5 5.1 13.3 12 15 6.9-1.7 12-7.5 12-15V6z" fill="#1d2430"/>' +
  '<path d="M16 6 8 8.7v6.5c0 5 3.3 9.2 8 10.6z" fill="#0072b2"/></svg>';

/** Browsers ask for /favicon.ico on every page; answering it keeps that from being a 404 per visit. */
@ApiExcludeController()
@Public()
@Controller()
export class FaviconController {
  @Get('favicon.svg')
  @Header('Content-Type', 'image/svg+xml')
  @Header('Cache-Control', 'public, max-age=86400')
  svg(): string {
    return FAVICON_SVG;
  }

  @Get('favicon.ico')
  @HttpCode(301)
  @Header('Location', '/favicon.svg')
  @Header('Cache-Control', 'public, max-age=86400')
  ico(): void {}
}
