import { escapeHtml } from '../../core/html.js';
import { lineChart } from './charts.js';
import type { IncidentHistory, RecentLine, StatusRow } from './incident.js';

export interface IncidentModel {
  generatedAt: string;
  minutes: number;
  overall: string;
  rows: StatusRow[];
  history: IncidentHistory | null;
  /** Why there is no history (the primary did not answer), shown instead of empty charts. */
  historyError: string | null;
  lines: RecentLine[];
}

const e = escapeHtml;

/**
 * The incident part of the console, server-rendered: the status strip, the charts and the
 * recent warn/error lines. Served inside the page and alone as `/admin/incident`, which the
 * client swaps in every few seconds (parsed, never run: it contains no script).
 */
export function renderIncident(model: IncidentModel): string {
  const strip = model.rows
    .map(
      (row) =>
        `<li class="status tone-${row.tone}" data-name="${e(row.name)}" data-tone="${row.tone}"><span class="name">${e(row.name)}</span> <span class="state">${e(row.state)}</span><span class="reason">${e(row.reason)}</span></li>`,
    )
    .join('');
  const h = model.history;
  const charts = h
    ? [
        lineChart({ id: 'chart-requests', title: 'Request rate (req/s)', series: h.requestRate, times: h.times }),
        lineChart({ id: 'chart-errors', title: 'Errors by code (per s)', series: h.errorRate, times: h.times, empty: 'no errors in this window' }),
        lineChart({ id: 'chart-latency', title: 'Latency p50 / p99 (ms, bucket bound)', series: h.latency, times: h.times }),
        lineChart({ id: 'chart-pool', title: 'Main pool: saturation % and waiters', series: h.pool, times: h.times }),
        lineChart({ id: 'chart-breaker', title: 'Breaker state (worst worker)', series: h.breaker, times: h.times, fixedMax: 2 }),
        lineChart({ id: 'chart-shed', title: 'Shed rate (OVERLOADED per s)', series: h.shedRate, times: h.times }),
        lineChart({ id: 'chart-rss', title: 'RSS per worker (MB)', series: h.rss, times: h.times }),
      ].join('\n')
    : `<p class="tone-bad">History unavailable: ${e(model.historyError ?? 'unknown')}</p>`;
  const lines = model.lines.length
    ? model.lines
        .map(
          (l) =>
            `<tr class="level-${e(l.level)}"><td>${e(l.at.slice(11, 19))}</td><td>${e(l.level)}</td><td>${e(l.errorCode ?? '')}</td><td>${e(l.msg)}</td><td class="cid">${e(l.correlationId ?? '')}</td><td>${e(l.source)}</td></tr>`,
        )
        .join('')
    : '<tr><td colspan="6" class="muted">no warnings or errors kept</td></tr>';
  return `<section aria-labelledby="status-h">
<h2 id="status-h">Status <span class="overall tone-${model.overall === 'ok' ? 'ok' : 'bad'}" id="overall">/health/deep: ${e(model.overall)}</span> <span class="muted">at ${e(model.generatedAt.slice(11, 19))} UTC</span></h2>
<ul id="status-strip" class="strip">${strip}</ul>
</section>
<section aria-labelledby="history-h">
<h2 id="history-h">Last ${model.minutes} minutes <span class="muted">(10 s buckets, all workers)</span>
 <a href="/admin?minutes=15">15 min</a> · <a href="/admin?minutes=60">60 min</a></h2>
<div class="charts">${charts}</div>
</section>
<section aria-labelledby="lines-h">
<h2 id="lines-h">Recent warnings and errors</h2>
<div class="scroll"><table class="lines"><thead><tr><th>time</th><th>level</th><th>code</th><th>message</th><th>correlation id</th><th>process</th></tr></thead>
<tbody id="recent-lines">${lines}</tbody></table></div>
</section>`;
}
