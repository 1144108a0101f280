import { describe, expect, it } from 'vitest';
import { renderApiDocsPage } from './api-docs.page.js';

describe(renderApiDocsPage.name, () => {
  it('puts the nonce on every script, loads only self-hosted assets, and has no inline style or handler', () => {
    const html = renderApiDocsPage('abc+/=');
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts).toHaveLength(2);
    for (const tag of scripts) expect(tag).toContain('nonce="abc+/="');
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(url).toMatch(/^\/(?:assets\/swagger-ui\/|favicon\.svg$)/);
    expect(html).not.toMatch(/style=|<style|\son[a-z]+=/i);
    expect(html).toContain('"/api/docs-json"');
  });

  it('cannot be broken out of by a hostile nonce value', () => {
    expect(renderApiDocsPage('"><script>alert(1)</script>')).not.toContain('"><script>alert(1)');
  });
});
