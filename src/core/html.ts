const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML element content and quoted attribute values alike: the one escaper of every server-rendered page. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

export interface HtmlPage {
  /** Plain text; escaped here. */
  title: string;
  /** This response's CSP nonce; without one the page carries no inline style (it still works unstyled). */
  nonce: string | null;
  /** Inline CSS, emitted under the nonce. */
  style?: string;
  /** More `<head>` markup, already safe (stylesheet links). */
  head?: string;
  /** The `<body>` content, already safe. */
  body: string;
}

/**
 * The one document shell of every server-rendered page, so each gets the same head: UTF-8, the
 * mobile viewport, no cross-origin Referer (URLs may carry ids), and the favicon (a missing one
 * is a 404 in every operator's log).
 */
export function htmlPage(page: HtmlPage): string {
  const style = page.style === undefined || page.nonce === null ? '' : `\n<style nonce="${escapeHtml(page.nonce)}">\n${page.style}\n</style>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(page.title)}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">${page.head === undefined ? '' : `\n${page.head}`}${style}
</head>
<body>
${page.body}
</body>
</html>
`;
}
