import { escapeHtml, htmlPage } from '../core/html.js';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00}`;

export interface LoginPageModel {
  csrfToken: string;
  /** The per-request CSP nonce; without one the page simply carries no inline style. */
  nonce: string | null;
  error: string | null;
  username: string;
}

/** The server-rendered login form. No script at all: it posts to `POST /login`. */
export function renderLoginPage(model: LoginPageModel): string {
  const error = model.error === null ? '' : `<p class="error" role="alert">${escapeHtml(model.error)}</p>`;
  return htmlPage({
    title: 'Sign in · Rampart',
    nonce: model.nonce,
    style: STYLE,
    body: `<main>
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
</main>`,
  });
}
