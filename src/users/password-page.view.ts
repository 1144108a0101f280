import { escapeHtml, htmlPage } from '../core/html.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password-policy.js';

export interface PasswordPageModel {
  csrfToken: string;
  nonce: string | null;
  username: string;
  /** Signed in with a one-time password: nothing else works until it is changed. */
  required: boolean;
  error: string | null;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00}`;

/** The server-rendered password change form; no script, posts to `POST /password`. */
export function renderPasswordPage(model: PasswordPageModel): string {
  const notice = model.required ? '<p id="required">You signed in with a one-time password. Choose your own password to continue.</p>' : '';
  const error = model.error === null ? '' : `<p class="error" id="error" role="alert">${escapeHtml(model.error)}</p>`;
  return htmlPage({
    title: 'Change password · Rampart',
    nonce: model.nonce,
    style: STYLE,
    body: `<main>
<h1>Change password</h1>
<p>Signed in as <span id="user">${escapeHtml(model.username)}</span>.</p>
${notice}
${error}
<form method="post" action="/password" id="password-form">
<input type="hidden" name="_csrf" value="${escapeHtml(model.csrfToken)}">
<input type="hidden" name="username" autocomplete="username" value="${escapeHtml(model.username)}">
<label for="currentPassword">Current password</label>
<input id="currentPassword" name="currentPassword" type="password" autocomplete="current-password" required maxlength="${PASSWORD_MAX_LENGTH}">
<label for="newPassword">New password (at least ${PASSWORD_MIN_LENGTH} characters, not your username, not a recent one)</label>
<input id="newPassword" name="newPassword" type="password" autocomplete="new-password" required minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}">
<label for="confirmPassword">New password again</label>
<input id="confirmPassword" name="confirmPassword" type="password" autocomplete="new-password" required minlength="${PASSWORD_MIN_LENGTH}" maxlength="${PASSWORD_MAX_LENGTH}">
<button type="submit">Change password</button>
</form>
</main>`,
  });
}
