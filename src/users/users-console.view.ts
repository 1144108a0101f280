import { randomUUID } from 'node:crypto';
import { escapeHtml, htmlPage } from '../core/html.js';
import { ROLES } from '../database/entities/index.js';
import { IDEMPOTENCY_FORM_FIELD } from '../idempotency/idempotency.interceptor.js';
import type { UserSummary } from './user-accounts.js';

const STYLE = `  body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem; color: #1d2430; max-width: 60rem; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.5rem; }
  ul.users { list-style: none; padding: 0; } li.user { border: 1px solid #cfd6e0; border-radius: .4rem; padding: .5rem; margin: .5rem 0; }
  .summary { display: flex; flex-wrap: wrap; gap: .4rem; align-items: baseline; } .name { overflow-wrap: anywhere; }
  .badge { padding: .1rem .4rem; border-radius: .3rem; background: #e8edf3; } .off { background: #f8d7da; } .on { background: #d1e7dd; } .otp { background: #fff3cd; }
  form { margin: .5rem 0; display: flex; flex-wrap: wrap; gap: .4rem; align-items: end; } label { display: flex; flex-direction: column; }
  input, select { padding: .3rem; max-width: 100%; box-sizing: border-box; } button { padding: .35rem .8rem; }
  .ok { color: #0f5132; } .error { color: #842029; } .otp-box { border: 2px solid #997404; padding: .5rem; overflow-wrap: anywhere; }
  code { font-size: 1.1rem; user-select: all; }`;

export interface UsersPageModel {
  nonce: string;
  csrfToken: string;
  username: string;
  users: UserSummary[];
  /** The outcome of the action just taken, if any. */
  message: { kind: 'ok' | 'error'; text: string } | null;
  /** A one-time password to show once (create, reset), with whose it is. */
  oneTimePassword: { username: string; password: string } | null;
  /** There are more users than shown: the id to continue after. */
  nextAfter: number | null;
}

const e = escapeHtml;

function reasonField(): string {
  return '<label>Reason <input name="reason" required minlength="3" maxlength="500" autocomplete="off"></label>';
}

/**
 * A fresh key for each form on each rendering: the browser's re-submission of this very form
 * (a reload of its result page) repeats the key and is answered with the first result; any new
 * submission comes from a newly rendered form, with a new key (IdempotentForm).
 */
function idempotencyField(): string {
  // autocomplete off: a browser that restores form values on reload would send a spent key.
  return `<input type="hidden" name="${IDEMPOTENCY_FORM_FIELD}" value="${randomUUID()}" autocomplete="off">`;
}

function actionForm(model: UsersPageModel, user: UserSummary, action: string, label: string, extra = ''): string {
  return `<form method="post" action="/admin/users/${user.id}/${action}" data-action="${action}">
<input type="hidden" name="_csrf" value="${e(model.csrfToken)}">${extra}${reasonField()}<button type="submit">${e(label)}</button></form>`;
}

function userCard(model: UsersPageModel, user: UserSummary): string {
  const directory = user.source === 'ldap';
  const roleOptions = ROLES.map((r) => `<option value="${r}"${r === user.role ? ' selected' : ''}>${r}</option>`).join('');
  const forms = [
    directory ? '' : actionForm(model, user, 'role', 'Change role', `<label>Role <select name="role">${roleOptions}</select></label>`),
    user.disabled ? actionForm(model, user, 'enable', 'Enable') : actionForm(model, user, 'disable', 'Disable'),
    directory ? '' : actionForm(model, user, 'reset-password', 'Reset password', idempotencyField()),
    actionForm(model, user, 'sign-out', 'Sign out everywhere'),
  ].join('\n');
  return `<li class="user" id="user-${user.id}" data-username="${e(user.username)}">
<div class="summary"><strong class="name">${e(user.username)}</strong>
<span class="badge role">${e(user.role)}</span>
<span class="badge source">${e(user.source)}</span>
<span class="badge state ${user.disabled ? 'off' : 'on'}">${user.disabled ? 'disabled' : 'enabled'}</span>
${user.mustChangePassword ? '<span class="badge otp">one-time password</span>' : ''}
<span class="login">last login: ${user.lastLoginAt === null ? 'never' : e(user.lastLoginAt)}</span></div>
<details><summary>Actions</summary>${directory ? '<p class="note">Directory user: role and password come from the directory.</p>' : ''}
${forms}
</details>
</li>`;
}

/**
 * User management, server-rendered without any script: every action is a plain form post with
 * the session's CSRF token and a reason, answered with this page and the outcome. Cards rather
 * than a wide table, so it works on a 390 px phone screen.
 */
export function renderUsersPage(model: UsersPageModel): string {
  const message = model.message === null ? '' : `<p id="message" class="${model.message.kind}" role="${model.message.kind === 'error' ? 'alert' : 'status'}">${e(model.message.text)}</p>`;
  const otp =
    model.oneTimePassword === null
      ? ''
      : `<div id="one-time-password" class="otp-box"><p>One-time password for <strong>${e(model.oneTimePassword.username)}</strong>, shown only now.
Hand it over on a safe channel; it must be changed at first sign-in.</p><code id="otp-value">${e(model.oneTimePassword.password)}</code></div>`;
  const roleOptions = ROLES.map((r) => `<option value="${r}"${r === 'viewer' ? ' selected' : ''}>${r}</option>`).join('');
  const more = model.nextAfter === null ? '' : `<p><a href="/admin/users?after=${model.nextAfter}">More users</a></p>`;
  return htmlPage({
    title: 'Users · Rampart operator console',
    nonce: model.nonce,
    style: STYLE,
    body: `<nav><a href="/admin">Console</a> · <a href="/password">Change my password</a></nav>
<h1>Users</h1>
<p>Signed in as <span id="user">${e(model.username)}</span>. Role changes, disabling and password resets end the user's sessions at once.</p>
${message}
${otp}
<section>
<h2>Create a local user</h2>
<form method="post" action="/admin/users" id="create-form">
<input type="hidden" name="_csrf" value="${e(model.csrfToken)}">${idempotencyField()}
<label>Username <input name="username" required pattern="[a-z0-9][a-z0-9._@\\-]{1,63}" maxlength="64" autocomplete="off"></label>
<label>Role <select name="role">${roleOptions}</select></label>
${reasonField()}
<button type="submit">Create</button>
</form>
</section>
<section>
<h2>All users</h2>
<ul class="users" id="users">
${model.users.map((u) => userCard(model, u)).join('\n')}
</ul>
${more}
</section>`,
  });
}
