// Browser code for the operator console (served as an ES module under /assets/). It
// renders with textContent only: every value is data, never markup.
import { ApiError, createApiClient } from '../../../libs/api-client/src/index.js';

interface WorkerView {
  slot: number;
  id: number;
  pid: number | null;
  state: string;
  startedAt: string;
  restarts: number;
  lastHeartbeatAt: string | null;
  eventLoopLagMs: number | null;
  watchdog: string;
  rssBytes?: number;
  heapUsedBytes?: number;
  lastExit?: { code: number | null; signal: string | null; at: string; unexpected: boolean };
}
interface RolloutView {
  restartId: string;
  reason: string;
  status: string;
  code: string | null;
  message: string | null;
  startedAt: string;
  finishedAt: string | null;
  total: number;
  replaced: number;
  skipped: number;
}
interface PolicyView {
  state: string;
  cooldownRemainingS: number;
  restartsInWindow: number;
  plannedInWindow?: number;
  nextAction: string;
}
interface EmptySlotView {
  slot: number;
  reason: string;
  refillInS: number;
}
interface HistoryView {
  at: string;
  kind: string;
  reason: string;
  slot: number | null;
  override: boolean;
  planned?: boolean;
}
interface AuditView {
  at: string;
  actor: string | null;
  action: string;
  reason: string | null;
  outcome: string;
}
interface ConsoleState {
  system: Record<string, unknown> & {
    breaker?: { state?: string };
    pools?: { main?: Record<string, number> };
    redis?: { status?: string };
    logLevel?: { level?: string; configured?: string; override?: { level: string; revertsAt: string; reason: string; setBy: string } | null };
  };
  workers: { workers: WorkerView[]; emptySlots?: EmptySlotView[]; history: HistoryView[]; policy: PolicyView; rollout?: RolloutView | null };
  audit: AuditView[];
  /** Why the audit log could not be read; shown, so an empty table never hides a failure. */
  auditError?: string | null;
}

const api = createApiClient({ maxAttempts: 2 });

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function row(cells: (string | number | null | undefined)[], className?: string): HTMLTableRowElement {
  const tr = document.createElement('tr');
  if (className) tr.className = className;
  for (const cell of cells) {
    const td = document.createElement('td');
    td.textContent = cell === null || cell === undefined ? '–' : String(cell);
    tr.append(td);
  }
  return tr;
}

const mb = (bytes: number | undefined) => (bytes === undefined ? null : Math.round(bytes / 104857.6) / 10);

function uptime(since: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 360) / 10} h`;
}

function exitText(w: WorkerView): string | null {
  const e = w.lastExit;
  if (!e) return null;
  const how = e.signal ? `signal ${e.signal}` : `code ${e.code ?? '?'}`;
  return `${how}${e.unexpected ? ' (crash)' : ''} at ${e.at}`;
}

function rolloutText(r: RolloutView | null | undefined): string {
  if (!r) return 'none since start';
  const progress = `${r.replaced}/${r.total} replaced${r.skipped ? `, ${r.skipped} skipped` : ''}`;
  const end = r.status === 'running' ? 'running' : `${r.status} at ${r.finishedAt ?? '?'}`;
  const why = r.code || r.message ? ` (${[r.code, r.message].filter(Boolean).join(': ')})` : '';
  return `${r.restartId.slice(0, 8)} "${r.reason}": ${progress}, ${end}${why}`;
}

function logLevelText(view: ConsoleState['system']['logLevel']): string {
  if (!view) return '';
  const o = view.override;
  return o ? `${o.level} until ${o.revertsAt} (then ${view.configured ?? '?'}), set by ${o.setBy}: ${o.reason}` : String(view.level ?? '');
}

function render(state: ConsoleState): void {
  const system = state.system;
  const pool = system.pools?.main ?? {};
  byId('system').replaceChildren(
    row(['version', String(system.version ?? '')]),
    row(['mode', String(system.mode ?? '')]),
    row(['uptime s', String(system.uptimeS ?? '')]),
    row(['breaker', String(system.breaker?.state ?? '')], `state-${String(system.breaker?.state ?? '')}`),
    row(['main pool', `in use ${pool.inUse ?? '?'} / ${pool.max ?? '?'}, waiting ${pool.waiting ?? '?'}`]),
    row(['redis', String(system.redis?.status ?? '')]),
    row(['log level', logLevelText(system.logLevel)], system.logLevel?.override ? 'state-cooling_down' : undefined),
  );
  const policy = state.workers.policy;
  const badge = byId('policy-state');
  badge.textContent = policy.state;
  badge.className = `badge state-${policy.state}`;
  byId('policy-cooldown').textContent = String(policy.cooldownRemainingS);
  byId('policy-restarts').textContent = `${policy.restartsInWindow} (+${policy.plannedInWindow ?? 0} planned, not counted)`;
  byId('policy-next').textContent = policy.nextAction;
  const empty = new Map((state.workers.emptySlots ?? []).map((e) => [e.slot, e]));
  byId('workers').replaceChildren(
    ...state.workers.workers.map((w) => {
      const hole = w.state === 'stopped' ? empty.get(w.slot) : undefined;
      const tail = [w.state === 'stopped' ? null : uptime(w.startedAt), mb(w.rssBytes), mb(w.heapUsedBytes), exitText(w)];
      return hole
        ? row([w.slot, w.id, w.pid, `empty: ${hole.reason}, refill in ${hole.refillInS} s`, w.startedAt, w.restarts, w.lastHeartbeatAt, w.eventLoopLagMs, w.watchdog, ...tail], 'state-empty')
        : row([w.slot, w.id, w.pid, w.state, w.startedAt, w.restarts, w.lastHeartbeatAt, w.eventLoopLagMs, w.watchdog, ...tail], w.state === 'stopped' ? 'state-empty' : undefined);
    }),
  );
  byId('history').replaceChildren(
    ...[...state.workers.history].reverse().map((h) => row([h.at, h.planned ? `${h.kind} (planned)` : h.kind, h.reason, h.slot, h.override ? 'yes' : 'no'])),
  );
  const rollout = state.workers.rollout;
  byId('rollout').textContent = rolloutText(rollout);
  byId('rollout').className = rollout && rollout.status !== 'running' && rollout.status !== 'completed' ? 'badge state-blocked' : 'badge';
  // An empty table says it is empty; a failed read is reported in #audit-error instead.
  byId('audit').replaceChildren(
    ...(state.audit.length === 0 && !state.auditError ? [row(['no audit entries yet', null, null, null, null])] : state.audit.map((a) => row([a.at, a.actor, a.action, a.reason, a.outcome]))),
  );
  byId('audit-error').textContent = state.auditError ? `Audit log could not be read: ${state.auditError}` : '';
  byId('refreshed').textContent = new Date().toLocaleTimeString();
}

/**
 * The server renders the incident view (strip, charts, recent lines); a refresh fetches it
 * again and swaps it in. Parsed with DOMParser, whose documents never run scripts, and the
 * fragment contains none.
 */
async function refreshIncident(): Promise<void> {
  const target = byId('incident');
  const minutes = target.dataset['minutes'] ?? '15';
  const response = await fetch(`/admin/incident?minutes=${encodeURIComponent(minutes)}`, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
  if (!response.ok) throw new Error(`incident view: HTTP ${response.status}`);
  const parsed = new DOMParser().parseFromString(await response.text(), 'text/html');
  target.replaceChildren(...[...parsed.body.childNodes].map((node) => document.importNode(node, true)));
}

/**
 * Who put the text in #error: a failed refresh clears itself on the next good one, but a
 * refused restart stays until the operator acts again (the refresh after it must not wipe it).
 */
let errorFrom: 'refresh' | 'action' | null = null;

function showError(text: string, from: 'refresh' | 'action' | null): void {
  byId('error').textContent = text;
  errorFrom = text === '' ? null : from;
}

async function refresh(): Promise<void> {
  try {
    const [system, workers, audit] = await Promise.all([
      api.get<ConsoleState['system']>('/admin/api/system-status'),
      api.get<ConsoleState['workers']>('/admin/api/worker/status'),
      // Its failure (the database is down) is shown in its own place, not hidden as "no entries".
      api.get<AuditView[]>('/admin/api/audit?limit=20').then(
        (entries) => ({ entries, error: null }),
        (error: unknown) => ({ entries: [] as AuditView[], error: error instanceof ApiError ? `${error.code}: ${error.message} (${error.correlationId ?? 'no id'})` : String(error) }),
      ),
      refreshIncident(),
    ]);
    render({ system, workers, audit: audit.entries, auditError: audit.error });
    if (errorFrom === 'refresh') showError('', null);
  } catch (error) {
    showError(error instanceof ApiError ? `${error.code}: ${error.message} (${error.correlationId ?? 'no id'})` : String(error), 'refresh');
  }
}

const initial = JSON.parse(byId('rampart-state').textContent ?? '{}') as ConsoleState;
render(initial);
setInterval(() => void refresh(), 5000);

byId<HTMLFormElement>('restart-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const data = new FormData(form);
  const reason = String(data.get('reason') ?? '');
  const acknowledgeOverride = data.get('acknowledgeOverride') === 'true';
  byId('flash').textContent = '';
  showError('', null);
  void api.admin
    .restart({ reason, acknowledgeOverride })
    .then((accepted) => {
      byId('flash').textContent = `Rolling restart ${accepted.restartId} started.`;
      form.reset();
      return refresh();
    })
    .catch((error: unknown) => {
      showError(error instanceof ApiError ? `${error.code}: ${error.message}` : String(error), 'action');
      return refresh();
    });
});
