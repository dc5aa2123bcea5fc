// Small SVG charts drawn from data: a line with an optional band (a skill's estimate over
// time, with its interval) and weekly bars (adoption). Each chart carries a title and a
// text summary for screen readers; the numbers are also in a table next to it.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(title, summary, width, height) {
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    class: 'chart',
    preserveAspectRatio: 'xMidYMid meet',
  });
  root.append(svg('title', {}, title), svg('desc', {}, summary));
  return root;
}

/**
 * Lines over time. `series`: [{label, points: [{t: Date|string, y, low?, high?}], className}].
 * `y` runs from `min` to `max`; `marks` are horizontal reference lines ({y, label}).
 * `indexed`: one step per point, and each day's answers marked on the axis (a line where a new
 * day starts, labelled with its date).
 */
export function lineChart({ title, summary, series, min = 0, max = 1, marks = [], format = (y) => y, indexed = false }) {
  const width = 640;
  const height = 220;
  const pad = { left: 44, right: 12, top: 12, bottom: 28 };
  const root = frame(title, summary, width, height);
  const times = series.flatMap((s) => s.points.map((p) => new Date(p.t).getTime()));
  if (times.length === 0) return root;
  let t0 = Math.min(...times);
  let t1 = Math.max(...times);
  if (t0 === t1) {
    t0 -= 3_600_000;
    t1 += 3_600_000;
  }
  // `indexed`: one step per point (answers given minutes apart, then days apart, stay readable).
  const n = Math.max(1, ...series.map((s) => s.points.length - 1));
  const x = indexed
    ? (_t, i) => pad.left + (i / n) * (width - pad.left - pad.right)
    : (t) => pad.left + ((new Date(t).getTime() - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - min) / (max - min)) * (height - pad.top - pad.bottom);

  for (const tick of [min, (min + max) / 2, max]) {
    root.append(
      svg('line', { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), class: 'grid' }),
      svg('text', { x: pad.left - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'axis' }, format(tick)),
    );
  }
  for (const mark of marks) {
    root.append(
      svg('line', { x1: pad.left, x2: width - pad.right, y1: y(mark.y), y2: y(mark.y), class: 'mark' }),
      svg('text', { x: width - pad.right, y: y(mark.y) - 4, 'text-anchor': 'end', class: 'axis' }, mark.label),
    );
  }
  const fmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
  if (indexed) {
    dayMarks(root, series[0]?.points || [], x, fmt, { top: pad.top, bottom: height - pad.bottom, label: height - 8 });
  } else {
    root.append(
      svg('text', { x: pad.left, y: height - 8, class: 'axis' }, fmt.format(new Date(t0))),
      svg('text', { x: width - pad.right, y: height - 8, 'text-anchor': 'end', class: 'axis' }, fmt.format(new Date(t1))),
    );
  }
  for (const s of series) {
    const pts = s.points;
    if (pts.length && pts[0].low !== undefined) {
      const upper = pts.map((p, i) => `${x(p.t, i)},${y(p.high)}`);
      const lower = pts.map((p, i) => `${x(p.t, i)},${y(p.low)}`).reverse();
      root.append(svg('polygon', { points: [...upper, ...lower].join(' '), class: `band ${s.className || ''}` }));
    }
    root.append(
      svg('polyline', { points: pts.map((p, i) => `${x(p.t, i)},${y(p.y)}`).join(' '), class: `line ${s.className || ''}` }),
    );
    (pts.length <= 40 ? pts : []).forEach((p, i) => {
      root.append(svg('circle', { cx: x(p.t, i), cy: y(p.y), r: 3, class: `dot ${s.className || ''}` }));
    });
  }
  return root;
}

/**
 * The days of an indexed chart: a dashed line where a new day's answers start, and the day's
 * date under its first answer (every other date, or fewer, when the days are many).
 */
function dayMarks(root, points, x, fmt, { top, bottom, label }) {
  const dayOf = (p) => new Date(p.t).toDateString();
  const starts = points.map((p, i) => i).filter((i) => i === 0 || dayOf(points[i]) !== dayOf(points[i - 1]));
  const every = Math.max(1, Math.ceil(starts.length / 8));
  starts.forEach((i, k) => {
    const at = i === 0 ? x(points[0].t, 0) : (x(points[i - 1].t, i - 1) + x(points[i].t, i)) / 2;
    if (i > 0) root.append(svg('line', { x1: at, x2: at, y1: top, y2: bottom, class: 'day' }));
    if (k % every === 0) {
      root.append(svg('text', { x: at + 3, y: label, class: 'axis' }, fmt.format(new Date(points[i].t))));
    }
  });
}

/** Weekly bars with an optional second series drawn as a line on its own scale. */
export function barChart({ title, summary, labels, bars, barLabel, line, lineLabel }) {
  const width = 640;
  const height = 240;
  const pad = { left: 44, right: 44, top: 16, bottom: 36 };
  const root = frame(title, summary, width, height);
  const n = labels.length;
  if (n === 0) return root;
  const maxBar = Math.max(1, ...bars);
  const maxLine = line ? Math.max(1, ...line) : 1;
  const slot = (width - pad.left - pad.right) / n;
  const y = (v, m) => pad.top + (1 - v / m) * (height - pad.top - pad.bottom);
  root.append(
    svg('text', { x: pad.left - 6, y: y(maxBar, maxBar) + 4, 'text-anchor': 'end', class: 'axis' }, String(maxBar)),
    svg('text', { x: pad.left - 6, y: y(0, maxBar) + 4, 'text-anchor': 'end', class: 'axis' }, '0'),
    svg('line', { x1: pad.left, x2: width - pad.right, y1: y(0, 1), y2: y(0, 1), class: 'grid' }),
  );
  bars.forEach((v, i) => {
    const bx = pad.left + i * slot + slot * 0.15;
    const rect = svg('rect', {
      x: bx,
      y: y(v, maxBar),
      width: slot * 0.7,
      height: Math.max(0, y(0, maxBar) - y(v, maxBar)),
      class: 'bar',
    });
    rect.append(svg('title', {}, `${labels[i]}: ${v} ${barLabel}`));
    root.append(rect);
    if (n <= 12 || i % Math.ceil(n / 12) === 0) {
      root.append(svg('text', { x: bx + slot * 0.35, y: height - 18, 'text-anchor': 'middle', class: 'axis' }, labels[i]));
    }
  });
  if (line) {
    const pts = line.map((v, i) => `${pad.left + i * slot + slot / 2},${y(v, maxLine)}`);
    root.append(
      svg('polyline', { points: pts.join(' '), class: 'line second' }),
      svg('text', { x: width - pad.right + 6, y: y(maxLine, maxLine) + 4, class: 'axis' }, String(Math.round(maxLine))),
    );
  }
  const legend = svg('g', { class: 'legend' });
  legend.append(
    svg('rect', { x: pad.left, y: height - 12, width: 10, height: 10, class: 'bar' }),
    svg('text', { x: pad.left + 14, y: height - 3, class: 'axis' }, barLabel),
  );
  if (line) {
    legend.append(
      svg('line', { x1: pad.left + 190, x2: pad.left + 206, y1: height - 7, y2: height - 7, class: 'line second' }),
      svg('text', { x: pad.left + 210, y: height - 3, class: 'axis' }, `${lineLabel} (right scale)`),
    );
  }
  root.append(legend);
  return root;
}
