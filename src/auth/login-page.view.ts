import { escapeHtml } from '../core/html.js';

export interface LoginPageModel {
  csrfToken: string;
  /** The per-request CSP nonce; without one the page simply carries no inline style. */
  nonce: string | null;
  error: string | null;
  username: string;
}

/** The server-rendered login form. No script at all: it posts to `POST /login`. */
export function renderLoginPage(model: LoginPageModel): string {
  const style =
    model.nonce === null
      ? ''
      : `<style nonce="${escapeHtml(model.nonce)}">
body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00}
</style>`;
  const error = model.error === null ? '' : `<p class="error" role="alert">${escapeHtml(model.error)}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>Sign in · Rampart</title>
${style}
</head>
<body>
<main>
<h1>Sign in</h1>
${error}
<form method="post" action="/login" autocomplete="on">
<input type="hidden" name="_csrf" value="${escapeHtml(model.csrfToken)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="256" value="${escapeHtml(model.username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`;
}
