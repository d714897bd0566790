/**
 * The charts (uPlot): the pending backlog, the last 50 runs (duration as bars, items/s as a line,
 * one slot per run so each bar is readable at 50 runs) and search latency p50/p99. A chart is
 * updated in place when new data comes, so the legend keeps showing the values under the pointer.
 */
import uPlot from 'uplot';
import type { ChartsView } from '../view.ts';
import { byId, getJson } from './dom.ts';

const charts = new Map<string, uPlot>();
/** The start of each run the run chart shows, by slot (read by its labels, which outlive one refresh). */
let runStarts: string[] = [];
const runLabel = (slot: number): string => {
  const start = runStarts[slot];
  return start ? new Date(start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
};

interface ChartSpec {
  readonly series: uPlot.Series[];
  readonly empty: string;
  readonly scales?: uPlot.Scales;
  readonly axes?: uPlot.Axis[];
  /** The x values are times (epoch seconds); otherwise slots, labelled by `slotLabel`. */
  readonly slotLabel?: (slot: number) => string;
}

function drawChart(id: string, data: uPlot.AlignedData, spec: ChartSpec): void {
  const box = byId(id);
  const points = data[0].length;
  box.dataset['points'] = String(points);
  const existing = charts.get(id);
  if (points === 0) {
    existing?.destroy();
    charts.delete(id);
    const title = box.querySelector('h3')!.outerHTML;
    box.innerHTML = `${title}<div class="empty">${spec.empty}</div>`;
    return;
  }
  if (existing && existing.data[0].length > 0) {
    existing.setData(data);
    return;
  }
  existing?.destroy();
  box.querySelector('.empty')?.remove();
  // A few points would make uPlot stretch the time axis over years: at least ten minutes around them.
  const x: uPlot.Scale = spec.slotLabel
    ? { time: false, range: (_u, min, max) => [min - 0.6, max + 0.6] }
    : { time: true, range: (_u, min, max) => (max - min < 600 ? [min - 300, max + 300] : [min, max]) };
  const xAxis: uPlot.Axis = spec.slotLabel
    ? { space: 60, values: (_u, ticks) => ticks.map((tick) => (Number.isInteger(tick) ? spec.slotLabel!(tick) : '')) }
    : { space: 80 };
  const width = Math.max(240, box.clientWidth || 420);
  const chart = new uPlot(
    {
      width,
      height: 150,
      series: [
        spec.slotLabel ? { label: 'run', value: (_u, slot) => (slot == null ? '--' : spec.slotLabel!(slot)) } : {},
        ...spec.series,
      ],
      axes: [xAxis, ...(spec.axes ?? [{}])],
      scales: { ...(spec.scales ?? {}), x },
      legend: { live: true },
    },
    data,
    box,
  );
  charts.set(id, chart);
}

/** Fits every chart to its card after the window is resized. */
export function resizeCharts(): void {
  for (const [id, chart] of charts) chart.setSize({ width: Math.max(240, byId(id).clientWidth), height: 150 });
}

export async function refreshCharts(): Promise<void> {
  const { runs, backlog, searchLatency } = await getJson<ChartsView>('/api/charts');
  drawChart('chart-backlog', [backlog.map(([at]) => at / 1000), backlog.map(([, n]) => n)], {
    series: [
      {
        label: 'pending items',
        stroke: '#1565c0',
        fill: 'rgba(21,101,192,.08)',
        paths: uPlot.paths.stepped!({ align: 1 }),
      },
    ],
    empty: 'no backlog readings yet',
  });
  const finished = runs.filter((run) => run.seconds !== null && run.startDate);
  runStarts = finished.map((run) => run.startDate ?? '');
  drawChart(
    'chart-runs',
    [finished.map((_, slot) => slot), finished.map((run) => run.seconds), finished.map((run) => run.itemsPerSecond)],
    {
      series: [
        {
          label: 'duration (s)',
          stroke: '#2e7d32',
          fill: 'rgba(46,125,50,.35)',
          paths: uPlot.paths.bars!({ size: [0.7, 40] }),
          scale: 's',
          value: (_u, value) => (value == null ? '--' : `${value.toFixed(1)} s`),
        },
        {
          label: 'items/s',
          stroke: '#ef6c00',
          width: 2,
          scale: 'rate',
          points: { show: true },
          value: (_u, value) => (value == null ? '--' : value.toFixed(1)),
        },
      ],
      empty: 'no runs yet',
      scales: { s: {}, rate: {} },
      axes: [{ scale: 's' }, { scale: 'rate', side: 1, grid: { show: false } }],
      slotLabel: runLabel,
    },
  );
  drawChart(
    'chart-search',
    [
      searchLatency.map((point) => point.at / 1000),
      searchLatency.map((point) => point.p50),
      searchLatency.map((point) => point.p99),
    ],
    {
      series: [
        { label: 'p50 (ms)', stroke: '#1565c0', width: 2, points: { show: true } },
        { label: 'p99 (ms)', stroke: '#c62828', width: 2, points: { show: true } },
      ],
      empty: 'no searches yet',
    },
  );
}
