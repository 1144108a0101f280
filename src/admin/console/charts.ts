import { escapeHtml } from '../../core/html.js';
import type { Series } from './incident.js';

/** Colour-blind-safe palette (Okabe-Ito), as SVG presentation attributes: CSP allows no style="". */
export const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000'];

const W = 300;
const H = 80;

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

function format(value: number): string {
  return Math.abs(value) >= 100 ? String(Math.round(value)) : String(Math.round(value * 100) / 100);
}

/**
 * A small line chart drawn as inline SVG: one polyline per series, broken where a bucket has
 * no data; the scale starts at 0. Labels are HTML around the SVG, so the drawing can stretch
 * to any width (390 px phones included) without distorting text.
 */
export function lineChart(options: { id: string; title: string; series: Series[]; times: number[]; fixedMax?: number; empty?: string }): string {
  const { id, title, series, times } = options;
  const values = series.flatMap((s) => s.points.filter((v): v is number => v !== null));
  const top = options.fixedMax ?? niceMax(Math.max(0, ...values));
  const n = Math.max(1, times.length - 1);
  const x = (i: number) => Math.round((i / n) * W * 10) / 10;
  const y = (v: number) => Math.round((H - (Math.min(v, top) / top) * (H - 2) - 1) * 10) / 10;
  const lines = series
    .map((s, k) => {
      const color = PALETTE[k % PALETTE.length]!;
      const runs: string[] = [];
      let run: string[] = [];
      s.points.forEach((v, i) => {
        if (v === null) {
          if (run.length > 0) runs.push(run.join(' '));
          run = [];
        } else run.push(`${x(i)},${y(v)}`);
      });
      if (run.length > 0) runs.push(run.join(' '));
      return runs
        .map((points) =>
          points.includes(' ')
            ? `<polyline points="${points}" fill="none" stroke="${color}" stroke-width="1.6" vector-effect="non-scaling-stroke" data-series="${escapeHtml(s.name)}"/>`
            : `<circle cx="${points.split(',')[0]}" cy="${points.split(',')[1]}" r="1.5" fill="${color}" data-series="${escapeHtml(s.name)}"/>`,
        )
        .join('');
    })
    .join('');
  const latest = series.map((s, k) => {
    const last = [...s.points].reverse().find((v) => v !== null);
    return `<li><svg class="swatch" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${PALETTE[k % PALETTE.length]}"/></svg>${escapeHtml(s.name)} <b>${last === undefined || last === null ? '–' : escapeHtml(format(last))}</b></li>`;
  });
  const from = times[0] === undefined ? '' : new Date(times[0]).toISOString().slice(11, 16);
  const to = times.at(-1) === undefined ? '' : new Date(times.at(-1)!).toISOString().slice(11, 16);
  const nothing = series.length === 0 ? `<p class="muted">${escapeHtml(options.empty ?? 'no data')}</p>` : '';
  return `<figure class="chart" id="${escapeHtml(id)}" data-max="${format(top)}">
<figcaption>${escapeHtml(title)} <span class="muted">max ${escapeHtml(format(top))}</span></figcaption>
<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${escapeHtml(title)}"><rect width="${W}" height="${H}" fill="#f6f8fa"/><line x1="0" y1="${H / 2}" x2="${W}" y2="${H / 2}" stroke="#d9dee5" stroke-width="1" vector-effect="non-scaling-stroke"/>${lines}</svg>
<div class="axis muted"><span>${from} UTC</span><span>${to}</span></div>
${nothing}<ul class="legend">${latest.join('')}</ul>
</figure>`;
}
