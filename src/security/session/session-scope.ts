/**
 * The paths that carry a session: the JSON API, the admin console, the login page and the
 * password change page.
 * Everything else (health, metrics, CSP reports, static assets, the API docs) neither reads
 * nor creates one. Express matches routes case-insensitively and ignores a trailing slash,
 * so this does too: `/API/lots/` must not slip past sessions and CSRF.
 */
export function inSessionScope(path: string): boolean {
  const p = path.toLowerCase();
  if (p === '/api/docs' || p.startsWith('/api/docs/') || p.startsWith('/api/docs-')) return false;
  return (
    p === '/api' ||
    p.startsWith('/api/') ||
    p === '/admin' ||
    p.startsWith('/admin/') ||
    p === '/login' ||
    p === '/login/' ||
    p === '/password' ||
    p === '/password/'
  );
}
