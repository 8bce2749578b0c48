const SVG = 'http://www.w3.org/2000/svg';

/**
 * A small bar chart of per-minute counts (oldest first), as SVG. `label` is what a screen
 * reader hears instead of the bars, e.g. "412 events in the last hour".
 */
export function barChart(series: { values: number[]; className: string }[], label: string): SVGSVGElement {
  const width = 120;
  const height = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const minutes = series[0]?.values.length ?? 0;
  const highest = Math.max(1, ...series.map((s) => Math.max(...s.values)));
  const barWidth = width / Math.max(1, minutes);
  series.forEach((s, index) => {
    s.values.forEach((value, minute) => {
      if (value === 0) return;
      const bar = document.createElementNS(SVG, 'rect');
      const barHeight = Math.max(1, (value / highest) * height);
      bar.setAttribute('x', String(minute * barWidth + (index * barWidth) / series.length));
      bar.setAttribute('y', String(height - barHeight));
      bar.setAttribute('width', String(Math.max(0.5, barWidth / series.length - 0.2)));
      bar.setAttribute('height', String(barHeight));
      bar.setAttribute('class', s.className);
      svg.append(bar);
    });
  });
  return svg;
}
