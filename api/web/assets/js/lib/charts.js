// Small SVG charts: bars (grouped or stacked, vertical or horizontal), lines, and the XmR
// run chart of an improvement measure. Every chart is a <figure> with a caption, an SVG
// labelled by it (role="img"), a legend in words, and its figures as a <table> for screen
// readers, keyboards and print. Series differ by pattern or dash and marker shape as well
// as colour, so nothing depends on seeing colour.
import { h, s } from './dom.js';

const SERIES = 7;
const MARKERS = ['circle', 'square', 'triangle', 'diamond'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];
// Cells that hold a number (or a percentage, or none) line up on the right.
const NUMBER = /^[-+]?[\d.,]+%?$|^–$/;

/** Round tick values covering [min, max], about `count` of them (whole numbers for counts). */
export function ticks(min, max, count = 5, { integer = false } = {}) {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  if (out[out.length - 1] < max) out.push(Number((out[out.length - 1] + step).toFixed(10)));
  return out;
}

/** A linear scale from domain [d0, d1] to range [r0, r1]. */
export function scale([d0, d1], [r0, r1]) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** The largest value a chart must show: the tallest stack, or the largest single value. */
export function extent(series, stacked) {
  if (!series.length) return 0;
  const n = Math.max(...series.map((x) => x.values.length));
  let max = 0;
  for (let i = 0; i < n; i++) {
    const vals = series.map((x) => x.values[i] ?? 0);
    max = Math.max(max, stacked ? vals.reduce((a, b) => a + b, 0) : Math.max(...vals));
  }
  return max;
}

let seq = 0;
const uid = (prefix) => `${prefix}-${++seq}`;

function defs(id) {
  const p = (i, ...children) => s('pattern', { id: `${id}-p${i}`, patternUnits: 'userSpaceOnUse', width: 8, height: 8 },
    s('rect', { width: 8, height: 8, class: `series-${i}` }), ...children);
  const line = (d) => s('path', { d, class: 'chart__hatch' });
  return s('defs', {},
    p(0),
    p(1, line('M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4')),
    p(2, s('circle', { cx: 4, cy: 4, r: 1.6, class: 'chart__dot' })),
    p(3, line('M0,4 h8 M4,0 v8')),
    p(4, line('M0,2 h8 M0,6 h8')),
    p(5, line('M2,0 v8 M6,0 v8')),
    p(6, line('M-2,6 l4,4 M0,0 l8,8 M6,-2 l4,4')));
}

const fillOf = (id, i) => `url(#${id}-p${i % SERIES})`;

function swatch(id, i, kind = 'bar') {
  if (kind === 'line') {
    return s('svg', { class: 'chart__swatch', width: 28, height: 14, viewBox: '0 0 28 14', 'aria-hidden': 'true' },
      s('line', { x1: 1, y1: 7, x2: 27, y2: 7, class: `chart__line series-stroke-${i % SERIES}`, 'stroke-dasharray': DASHES[i % DASHES.length] || null }),
      marker(MARKERS[i % MARKERS.length], 14, 7, `series-${i % SERIES}`));
  }
  return s('svg', { class: 'chart__swatch', width: 16, height: 16, viewBox: '0 0 16 16', 'aria-hidden': 'true' },
    s('rect', { x: 0.5, y: 0.5, width: 15, height: 15, fill: fillOf(id, i), class: 'chart__bar' }));
}

function marker(shape, x, y, cls, size = 4) {
  switch (shape) {
    case 'square': return s('rect', { x: x - size, y: y - size, width: size * 2, height: size * 2, class: `chart__marker ${cls}` });
    case 'triangle': return s('path', { d: `M${x},${y - size - 1} L${x + size + 1},${y + size} L${x - size - 1},${y + size} Z`, class: `chart__marker ${cls}` });
    case 'down': return s('path', { d: `M${x},${y + size + 1} L${x + size + 1},${y - size} L${x - size - 1},${y - size} Z`, class: `chart__marker ${cls}` });
    case 'diamond': return s('path', { d: `M${x},${y - size - 1} L${x + size + 1},${y} L${x},${y + size + 1} L${x - size - 1},${y} Z`, class: `chart__marker ${cls}` });
    default: return s('circle', { cx: x, cy: y, r: size, class: `chart__marker ${cls}` });
  }
}

function dataTable({ caption, head, rows }) {
  return h('details', { class: 'chart__data' },
    h('summary', { class: 'chart__data-summary' }, 'Show the figures as a table'),
    // Scrolls on its own on a narrow screen (a focusable region, so keyboards can too).
    h('div', { class: 'table-scroll', role: 'region', tabindex: '0', 'aria-label': `${caption}: table` }, h('table', { class: 'table' },
      h('caption', { class: 'table__caption' }, caption),
      h('thead', {}, h('tr', {}, head.map((t, i) => h('th', { scope: 'col', class: i ? 'numeric' : null }, t)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => (i ? h('td', { class: NUMBER.test(String(c)) ? 'numeric' : null }, c) : h('th', { scope: 'row' }, c)))))))));
}

/**
 * Renders `draw(width)` into a figure now and again when its width changes, so that text
 * stays readable from a phone to a wide screen.
 */
function figure({ title, description, legend, table, draw, height }) {
  const id = uid('chart');
  const holder = h('div', { class: 'chart__canvas' });
  const fig = h('figure', { class: 'chart', 'aria-labelledby': `${id}-title` },
    h('figcaption', { class: 'chart__title', id: `${id}-title` }, title),
    description ? h('p', { class: 'chart__description', id: `${id}-desc` }, description) : null,
    holder,
    legend?.length ? h('ul', { class: 'chart__legend' }, legend.map(([sw, text]) => h('li', { class: 'chart__legend-item' }, sw(id), ' ', text))) : null,
    dataTable(table));
  let last = 0;
  const paint = () => {
    const width = Math.max(280, Math.floor(holder.clientWidth || 640));
    if (width === last) return;
    last = width;
    const svg = s('svg', {
      class: 'chart__svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-labelledby': description ? `${id}-title ${id}-desc` : `${id}-title`,
    }, defs(id), draw(width, id));
    holder.replaceChildren(svg);
  };
  requestAnimationFrame(paint);
  if ('ResizeObserver' in window) new ResizeObserver(() => paint()).observe(holder);
  // Painted at once too, for print and for a figure added to a hidden part of the page.
  queueMicrotask(paint);
  return fig;
}

function yAxis(g, y, tickValues, left, right, fmt) {
  for (const t of tickValues) {
    const py = y(t);
    g.append(s('line', { x1: left, x2: right, y1: py, y2: py, class: 'chart__grid' }));
    g.append(s('text', { x: left - 6, y: py, class: 'chart__tick chart__tick--y', 'dominant-baseline': 'middle', 'text-anchor': 'end' }, fmt(t)));
  }
}

/** Which category labels fit along `width` pixels: every k-th. */
function labelStep(n, width, labelWidth = 48) {
  return Math.max(1, Math.ceil((n * labelWidth) / Math.max(1, width)));
}

/**
 * Vertical bars over categories (months, say), one bar per series or stacked.
 * series: [{name, values}] aligned with `categories`.
 */
export function columnChart({ title, description, categories, series, stacked = false, unit = '', format = (v) => String(v), tableHead, legend: alwaysLegend = false }) {
  const height = 280;
  const max = extent(series, stacked);
  // Bars count things: whole-number ticks.
  const tv = ticks(0, Math.max(1, max), 4, { integer: true });
  const rows = categories.map((c, i) => [c, ...series.map((x) => format(x.values[i] ?? 0)), ...(series.length > 1 ? [format(series.reduce((a, x) => a + (x.values[i] ?? 0), 0))] : [])]);
  return figure({
    title,
    description,
    height,
    legend: series.length > 1 || alwaysLegend ? series.map((x, i) => [(id) => swatch(id, i), x.name]) : null,
    table: { caption: title, head: tableHead ?? ['', ...series.map((x) => x.name), ...(series.length > 1 ? ['Total'] : [])], rows },
    draw: (width, id) => {
      const m = { top: 12, right: 8, bottom: 36, left: 44 };
      const x0 = m.left;
      const x1 = width - m.right;
      const y = scale([0, tv[tv.length - 1]], [height - m.bottom, m.top]);
      const g = s('g', {});
      yAxis(g, y, tv, x0, x1, (t) => `${t}${unit}`);
      const band = (x1 - x0) / Math.max(1, categories.length);
      const inner = Math.max(2, band * 0.72);
      const step = labelStep(categories.length, x1 - x0);
      categories.forEach((c, i) => {
        const bx = x0 + i * band + (band - inner) / 2;
        if (stacked) {
          let acc = 0;
          series.forEach((x, k) => {
            const v = x.values[i] ?? 0;
            if (!v) return;
            const top = y(acc + v);
            g.append(s('rect', { x: bx, y: top, width: inner, height: Math.max(0.5, y(acc) - top), fill: fillOf(id, k), class: 'chart__bar' },
              s('title', {}, `${c}, ${x.name}: ${format(v)}`)));
            acc += v;
          });
        } else {
          const w = inner / Math.max(1, series.length);
          series.forEach((x, k) => {
            const v = x.values[i] ?? 0;
            const top = y(v);
            g.append(s('rect', { x: bx + k * w, y: top, width: Math.max(1, w - 1), height: Math.max(0, y(0) - top), fill: fillOf(id, k), class: 'chart__bar' },
              s('title', {}, `${c}, ${x.name}: ${format(v)}`)));
          });
        }
        if (i % step === 0) {
          g.append(s('text', { x: x0 + i * band + band / 2, y: height - m.bottom + 16, class: 'chart__tick', 'text-anchor': 'middle' }, c));
        }
      });
      g.append(s('line', { x1: x0, x2: x1, y1: y(0), y2: y(0), class: 'chart__axis' }));
      return g;
    },
  });
}

/** Horizontal bars: one per category, with its value written at its end. */
export function barChart({ title, description, categories, values, format = (v) => String(v), valueHead = 'Count' }) {
  const rowH = 30;
  const height = Math.max(60, categories.length * rowH + 24);
  const max = Math.max(1, ...values);
  return figure({
    title,
    description,
    height,
    table: { caption: title, head: ['', valueHead], rows: categories.map((c, i) => [c, format(values[i])]) },
    draw: (width, id) => {
      const labelW = Math.min(Math.floor(width * 0.42), 200);
      const x0 = labelW + 8;
      const x1 = width - 48;
      const x = scale([0, max], [x0, x1]);
      const g = s('g', {});
      const maxChars = Math.floor(labelW / 7);
      categories.forEach((c, i) => {
        const cy = 12 + i * rowH;
        const text = c.length > maxChars ? `${c.slice(0, maxChars - 1)}…` : c;
        g.append(s('text', { x: labelW, y: cy + 10, class: 'chart__tick', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, text, s('title', {}, c)));
        g.append(s('rect', { x: x0, y: cy, width: Math.max(values[i] ? 2 : 0, x(values[i]) - x0), height: 20, fill: fillOf(id, 0), class: 'chart__bar' },
          s('title', {}, `${c}: ${format(values[i])}`)));
        g.append(s('text', { x: x(values[i]) + 6, y: cy + 10, class: 'chart__value', 'dominant-baseline': 'middle' }, format(values[i])));
      });
      g.append(s('line', { x1: x0, x2: x0, y1: 6, y2: height - 6, class: 'chart__axis' }));
      return g;
    },
  });
}

/**
 * Lines over ordered points. series: [{name, values}] (null for a gap); refs: horizontal
 * reference lines [{name, value, kind: 'target' | 'mean' | 'limit'}]; marks(i, k) may name
 * a marker shape and class for a point (special causes).
 */
export function lineChart({ title, description, labels, series, refs = [], yMin, yMax, unit = '', format = (v) => String(v), table, marks, legendExtra = [], integer = false }) {
  const height = 300;
  const all = [...series.flatMap((x) => x.values), ...refs.map((r) => r.value)].filter((v) => v != null);
  const lo = yMin ?? Math.min(0, ...all);
  const hi = yMax ?? Math.max(1, ...all);
  const tv = ticks(lo, hi, 5, { integer });
  const legend = [
    ...series.map((x, i) => [(id) => swatch(id, i, 'line'), x.name]),
    ...refs.map((r) => [() => s('svg', { class: 'chart__swatch', width: 28, height: 14, viewBox: '0 0 28 14', 'aria-hidden': 'true' },
      s('line', { x1: 1, y1: 7, x2: 27, y2: 7, class: `chart__ref chart__ref--${r.kind}` })), r.name]),
    ...legendExtra,
  ];
  return figure({
    title,
    description,
    height,
    legend,
    table: table ?? {
      caption: title,
      head: ['', ...series.map((x) => x.name)],
      rows: labels.map((l, i) => [l, ...series.map((x) => (x.values[i] == null ? '–' : format(x.values[i])))]),
    },
    draw: (width) => {
      const m = { top: 14, right: refs.length ? 70 : 14, bottom: 36, left: 48 };
      const x0 = m.left;
      const x1 = width - m.right;
      const y = scale([tv[0], tv[tv.length - 1]], [height - m.bottom, m.top]);
      const x = labels.length > 1 ? scale([0, labels.length - 1], [x0 + 8, x1 - 8]) : () => (x0 + x1) / 2;
      const g = s('g', {});
      yAxis(g, y, tv, x0, x1, (t) => `${format(t)}${unit}`);
      for (const r of refs) {
        g.append(s('line', { x1: x0, x2: x1, y1: y(r.value), y2: y(r.value), class: `chart__ref chart__ref--${r.kind}` }, s('title', {}, `${r.name}: ${format(r.value)}`)));
        g.append(s('text', { x: x1 + 4, y: y(r.value), class: 'chart__ref-label', 'dominant-baseline': 'middle' }, r.short ?? r.name));
      }
      series.forEach((ser, k) => {
        let d = '';
        ser.values.forEach((v, i) => {
          if (v == null) return;
          d += `${d && ser.values[i - 1] != null ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        });
        g.append(s('path', { d, class: `chart__line series-stroke-${k % SERIES}`, 'stroke-dasharray': DASHES[k % DASHES.length] || null }));
        ser.values.forEach((v, i) => {
          if (v == null) return;
          const special = marks?.(i, k);
          const mk = special
            ? marker(special.shape, x(i), y(v), special.class, 5)
            : marker(MARKERS[k % MARKERS.length], x(i), y(v), `series-${k % SERIES}`);
          mk.append(s('title', {}, `${labels[i]}, ${ser.name}: ${format(v)}${unit}${special?.text ? ` (${special.text})` : ''}`));
          g.append(mk);
        });
      });
      const step = labelStep(labels.length, x1 - x0, 56);
      labels.forEach((l, i) => {
        if (i % step === 0 || i === labels.length - 1 && labels.length > 1 && (labels.length - 1) % step > step / 2) {
          g.append(s('text', { x: x(i), y: height - m.bottom + 16, class: 'chart__tick', 'text-anchor': 'middle' }, l));
        }
      });
      g.append(s('line', { x1: x0, x2: x1, y1: height - m.bottom, y2: height - m.bottom, class: 'chart__axis' }));
      return g;
    },
  });
}

const RULES = {
  OUTSIDE_LIMITS: 'outside the process limits',
  SHIFT: 'a shift (7 or more on one side of the mean)',
  TREND: 'a trend (6 or more rising or falling)',
  TWO_OF_THREE_NEAR_LIMIT: '2 of 3 near a limit',
};

/**
 * An improvement measure as an XmR run chart: its values over time, the mean and the
 * process limits from `spc`, the target, and special-cause points marked by direction.
 */
export function runChart({ title, measure, formatDate }) {
  const pts = measure.spc?.points ?? measure.measurements.map((p) => ({ at: p.at, value: p.value, rules: [], specialCause: null }));
  const labels = pts.map((p) => formatDate(p.at));
  const unit = measure.unit === '%' ? '%' : '';
  const spc = measure.spc;
  const refs = [];
  if (spc) {
    refs.push({ name: 'Mean', short: 'Mean', value: spc.mean, kind: 'mean' });
    refs.push({ name: 'Upper process limit', short: 'Upper', value: spc.upperProcessLimit, kind: 'limit' });
    refs.push({ name: 'Lower process limit', short: 'Lower', value: spc.lowerProcessLimit, kind: 'limit' });
  }
  if (measure.target != null) refs.push({ name: 'Target', short: 'Target', value: measure.target, kind: 'target' });
  const better = measure.betterWhen;
  const improving = (side) => (side === 'HIGH' && better === 'HIGHER') || (side === 'LOW' && better === 'LOWER');
  const signals = (p) => (p.specialCause
    ? `${improving(p.specialCause) ? 'improvement' : 'concern'}: ${p.rules.map((r) => RULES[r] ?? r).join(', ')}`
    : 'common cause');
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toFixed(2)).toString());
  const words = [
    spc ? `Mean ${fmt(spc.mean)}${unit}, process limits ${fmt(spc.lowerProcessLimit)}${unit} to ${fmt(spc.upperProcessLimit)}${unit}.` : 'Too few points for process limits.',
    spc?.fewPoints ? 'Fewer than 15 points: the limits are indicative only.' : '',
    measure.target != null ? `Target ${fmt(measure.target)}${unit}; ${better === 'HIGHER' ? 'higher' : 'lower'} is better.` : `${better === 'HIGHER' ? 'Higher' : 'Lower'} is better.`,
  ].filter(Boolean).join(' ');
  return lineChart({
    title,
    description: words,
    labels,
    series: [{ name: `${measure.name}${measure.unit && measure.unit !== '%' ? ` (${measure.unit})` : ''}`, values: pts.map((p) => p.value) }],
    refs,
    unit,
    format: fmt,
    marks: (i) => {
      const p = pts[i];
      if (!p.specialCause) return null;
      const good = improving(p.specialCause);
      return { shape: p.specialCause === 'HIGH' ? 'triangle' : 'down', class: good ? 'chart__special--improving' : 'chart__special--concern', text: signals(p) };
    },
    legendExtra: spc ? [
      [() => s('svg', { class: 'chart__swatch', width: 16, height: 16, viewBox: '0 0 16 16', 'aria-hidden': 'true' }, marker('triangle', 8, 8, 'chart__special--improving', 5)), 'Special cause: improvement'],
      [() => s('svg', { class: 'chart__swatch', width: 16, height: 16, viewBox: '0 0 16 16', 'aria-hidden': 'true' }, marker('down', 8, 8, 'chart__special--concern', 5)), 'Special cause: concern'],
    ] : [],
    table: {
      caption: title,
      head: ['When', `Value${measure.unit ? ` (${measure.unit})` : ''}`, 'Signal'],
      rows: pts.map((p, i) => [labels[i], fmt(p.value), signals(p)]),
    },
  });
}
