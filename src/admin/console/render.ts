import { escapeHtml, htmlPage } from '../../core/html.js';
import { scriptSafeJson } from './safe-json.js';

const STYLE = `  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 0 1rem 2rem; max-width: 1400px; color: #1d2430; }
  h1 { font-size: 1.2rem; margin: 0; } h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .6rem 0; border-bottom: 1px solid #cfd6e0; }
  nav#console-nav { display: flex; flex-wrap: wrap; gap: .3rem .9rem; align-items: center; flex: 1; }
  nav#console-nav form { margin: 0 0 0 auto; }
  table { border-collapse: collapse; margin-top: .5rem; } td, th { border: 1px solid #cfd6e0; padding: .25rem .5rem; text-align: left; vertical-align: top; }
  .scroll { overflow-x: auto; max-width: 100%; }
  .muted { color: #5b6573; font-weight: normal; font-size: .85em; }
  .badge { padding: .1rem .4rem; border-radius: .3rem; background: #e8edf3; }
  .state-blocked, .state-open, .state-empty { background: #f8d7da; } .state-cooling_down, .state-half_open { background: #fff3cd; }
  .state-allowed, .state-closed { background: #d1e7dd; }
  .strip { list-style: none; padding: 0; margin: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .4rem; }
  .status { border-radius: .35rem; padding: .35rem .55rem; border-left: .4rem solid; }
  .status .name { font-weight: 600; } .status .reason { display: block; font-size: .85em; overflow-wrap: anywhere; }
  .tone-ok { background: #d1e7dd; border-color: #198754; } .tone-warn { background: #fff3cd; border-color: #b58105; }
  .tone-bad { background: #f8d7da; border-color: #b02a37; color: #58151c; }
  .overall { font-size: .85em; padding: .1rem .45rem; border-radius: .3rem; }
  .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: .6rem; }
  .chart { margin: 0; border: 1px solid #cfd6e0; border-radius: .35rem; padding: .4rem; min-width: 0; }
  .chart svg { width: 100%; height: 80px; display: block; }
  .chart svg.swatch { width: 10px; height: 10px; display: inline-block; margin-right: .25rem; }
  .chart figcaption { font-weight: 600; font-size: .9em; }
  .axis { display: flex; justify-content: space-between; }
  .legend { list-style: none; margin: .2rem 0 0; padding: 0; font-size: .85em; display: flex; flex-wrap: wrap; gap: 0 .8rem; }
  .lines td { font-size: .85em; } .lines .cid { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
  .level-error, .level-error td, .level-fatal, .level-fatal td { background: #fbe7e9; } .level-warn, .level-warn td { background: #fff8e1; }
  #flash:empty, #error:empty, #audit-error:empty { display: none; } #error, #audit-error { color: #842029; }
  form label { display: block; margin: .4rem 0; } textarea { width: 30rem; max-width: 100%; box-sizing: border-box; }
  @media (max-width: 600px) {
    body { padding: 0 .5rem 1rem; } td, th { padding: .2rem .3rem; }
    header h1 { flex-basis: 100%; }
    /* Log lines as stacked cards on a phone: a six-column table would hide the correlation id. */
    .lines thead { display: none; } .lines, .lines tbody { display: block; }
    .lines tr { display: block; border: 1px solid #cfd6e0; margin-bottom: .3rem; }
    .lines td { display: inline-block; border: 0; } .lines td:nth-child(4), .lines td.cid { display: block; }
  }`;

export interface ConsoleModel {
  nonce: string;
  csrfToken: string;
  username: string;
  state: unknown;
  flash: string | null;
  /** The server-rendered incident view (renderIncident); trusted markup built with escapeHtml. */
  incidentHtml: string;
  minutes: number;
  /** GRAFANA_URL, linked from the nav when set. */
  grafanaUrl: string | null;
}

/**
 * The operator console, server-rendered. The incident view (status strip, charts, recent
 * lines) is HTML built with escapeHtml (incident-view.ts); everything else dynamic reaches the
 * page as JSON in a data block and is put on screen with textContent by console.client.js, so
 * a hostile value (a restart reason, a worker state) is only ever text. The one inline script carries the
 * request's CSP nonce; `strict-dynamic` lets it load the client module.
 */
export function renderConsole(model: ConsoleModel): string {
  const nonce = escapeHtml(model.nonce);
  return htmlPage({
    title: 'Rampart operator console',
    nonce: model.nonce,
    style: STYLE,
    body: `<header>
<h1>Rampart operator console</h1>
<nav id="console-nav" aria-label="Console">
  <a href="/admin">Console</a>
  <a href="/admin/users">Users</a>
  ${model.grafanaUrl ? `<a href="${escapeHtml(model.grafanaUrl)}" rel="noopener noreferrer" target="_blank">Grafana</a>` : ''}
  <form id="logout-form" method="post" action="/admin/logout">
    <input type="hidden" name="_csrf" value="${escapeHtml(model.csrfToken)}">
    <button type="submit">Sign out</button>
  </form>
</nav>
</header>
<p>Signed in as <span id="user">${escapeHtml(model.username)}</span>. Refreshes every 5 s; last refresh <span id="refreshed">now</span>.</p>
<p id="flash" role="status">${model.flash ? escapeHtml(model.flash) : ''}</p>
<p id="error" role="alert"></p>
<div id="incident" data-minutes="${model.minutes}">${model.incidentHtml}</div>
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
  <div class="scroll"><table>
    <thead><tr><th>slot</th><th>id</th><th>pid</th><th>state</th><th>started</th><th>restarts</th><th>last heartbeat</th><th>event-loop lag ms</th><th>watchdog</th><th>uptime</th><th>RSS MB</th><th>heap MB</th><th>last exit</th></tr></thead>
    <tbody id="workers"></tbody>
  </table></div>
  <p>Rollout: <span id="rollout">none since start</span></p>
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
  <div class="scroll"><table>
    <thead><tr><th>at</th><th>kind</th><th>reason</th><th>slot</th><th>override</th></tr></thead>
    <tbody id="history"></tbody>
  </table></div>
</section>
<section>
  <h2>Audit log</h2>
  <p id="audit-error" role="alert"></p>
  <div class="scroll"><table>
    <thead><tr><th>at</th><th>actor</th><th>action</th><th>reason</th><th>outcome</th></tr></thead>
    <tbody id="audit"></tbody>
  </table></div>
</section>
<script type="application/json" id="rampart-state">${scriptSafeJson(model.state)}</script>
<script type="module" nonce="${nonce}" src="/assets/src/admin/console/console.client.js"></script>`,
  });
}
