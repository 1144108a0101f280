import { escapeHtml } from '../../core/html.js';
import { scriptSafeJson } from './safe-json.js';

export interface ConsoleModel {
  nonce: string;
  csrfToken: string;
  username: string;
  state: unknown;
  flash: string | null;
}

/**
 * The operator console, server-rendered. Everything dynamic reaches the page as JSON in a
 * data block and is put on screen with textContent by console.client.js, so a hostile value
 * (a restart reason, a worker state) is only ever text. The one inline script carries the
 * request's CSP nonce; `strict-dynamic` lets it load the client module.
 */
export function renderConsole(model: ConsoleModel): string {
  const nonce = escapeHtml(model.nonce);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rampart operator console</title>
<style nonce="${nonce}">
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2430; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.5rem; }
  table { border-collapse: collapse; margin-top: .5rem; } td, th { border: 1px solid #cfd6e0; padding: .25rem .5rem; text-align: left; }
  .badge { padding: .1rem .4rem; border-radius: .3rem; background: #e8edf3; }
  .state-blocked, .state-open { background: #f8d7da; } .state-cooling_down, .state-half_open { background: #fff3cd; }
  .state-allowed, .state-closed { background: #d1e7dd; }
  #flash:empty, #error:empty { display: none; } #error { color: #842029; }
  form label { display: block; margin: .4rem 0; } textarea { width: 30rem; max-width: 100%; }
</style>
</head>
<body>
<nav><a href="/admin/users">Users</a></nav>
<h1>Rampart operator console</h1>
<p>Signed in as <span id="user">${escapeHtml(model.username)}</span>. Refreshes every 5 s; last refresh <span id="refreshed">now</span>.</p>
<p id="flash" role="status">${model.flash ? escapeHtml(model.flash) : ''}</p>
<p id="error" role="alert"></p>
<section>
  <h2>System</h2>
  <table><tbody id="system"></tbody></table>
</section>
<section>
  <h2>Restart policy</h2>
  <p>State <span id="policy-state" class="badge"></span>, cooldown remaining <span id="policy-cooldown"></span> s,
     restarts in window <span id="policy-restarts"></span>. Next: <span id="policy-next"></span></p>
</section>
<section>
  <h2>Workers</h2>
  <table>
    <thead><tr><th>slot</th><th>id</th><th>pid</th><th>state</th><th>started</th><th>restarts</th><th>last heartbeat</th><th>event-loop lag ms</th><th>watchdog</th></tr></thead>
    <tbody id="workers"></tbody>
  </table>
</section>
<section>
  <h2>Rolling restart</h2>
  <form id="restart-form" method="post" action="/admin/worker/restart">
    <input type="hidden" name="_csrf" value="${escapeHtml(model.csrfToken)}">
    <label>Reason <textarea name="reason" required minlength="3" maxlength="500" rows="2"></textarea></label>
    <label><input type="checkbox" name="acknowledgeOverride" value="true"> Override the churn block (only when blocked; audited)</label>
    <button type="submit">Restart workers</button>
  </form>
</section>
<section>
  <h2>Recent restarts</h2>
  <table>
    <thead><tr><th>at</th><th>kind</th><th>reason</th><th>slot</th><th>override</th></tr></thead>
    <tbody id="history"></tbody>
  </table>
</section>
<section>
  <h2>Audit log</h2>
  <table>
    <thead><tr><th>at</th><th>actor</th><th>action</th><th>reason</th><th>outcome</th></tr></thead>
    <tbody id="audit"></tbody>
  </table>
</section>
<script type="application/json" id="rampart-state">${scriptSafeJson(model.state)}</script>
<script type="module" nonce="${nonce}" src="/assets/src/admin/console/console.client.js"></script>
</body>
</html>`;
}
