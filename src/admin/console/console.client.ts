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
  workers: { workers: WorkerView[]; emptySlots?: EmptySlotView[]; history: HistoryView[]; policy: PolicyView };
  audit: AuditView[];
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
      return hole
        ? row([w.slot, w.id, w.pid, `empty: ${hole.reason}, refill in ${hole.refillInS} s`, w.startedAt, w.restarts, w.lastHeartbeatAt, w.eventLoopLagMs, w.watchdog], 'state-empty')
        : row([w.slot, w.id, w.pid, w.state, w.startedAt, w.restarts, w.lastHeartbeatAt, w.eventLoopLagMs, w.watchdog]);
    }),
  );
  byId('history').replaceChildren(
    ...[...state.workers.history].reverse().map((h) => row([h.at, h.planned ? `${h.kind} (planned)` : h.kind, h.reason, h.slot, h.override ? 'yes' : 'no'])),
  );
  byId('audit').replaceChildren(...state.audit.map((a) => row([a.at, a.actor, a.action, a.reason, a.outcome])));
  byId('refreshed').textContent = new Date().toLocaleTimeString();
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
      api.get<AuditView[]>('/admin/api/audit?limit=20'),
    ]);
    render({ system, workers, audit });
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
