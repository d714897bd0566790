/**
 * The state machine, drawn from its ASL: boxes placed by a layout of the definition's own
 * transitions (rows by longest path from StartAt, the main path down the middle, the failure path
 * to one side), edges drawn beneath them in one SVG, and one run's progress painted on top. The
 * drawing is scaled to its card, so it never spills out of it at any width.
 */
import type { AslGraph, AslStateShape } from '../../../asl/indexer.ts';
import type { ExecutionView, StageView } from '../view.ts';
import { byId, esc } from './dom.ts';

const BOX_W = 164;
const COL_GAP = 236;
const ROW_GAP = 28;
const BOX_H = 38;
/** A stage box holds its name, status line and up to four lines of details (wrapped, never cut). */
const STAGE_H = 98;
const MAP_EXTRA = 116;
/**
 * A Map's box holds its title and counts, two lines of details, its inner states side by side (from
 * `INNER_TOP`) and its progress bar.
 */
const MAP_H = 112;
const INNER_TOP = 56;
const INNER_W = 124;
const INNER_STEP = 138;

interface Place {
  readonly col: number;
  readonly y: number;
  readonly h: number;
  readonly w: number;
  x: number;
}

export interface Layout {
  readonly place: ReadonlyMap<string, Place>;
  readonly width: number;
  readonly height: number;
  readonly states: AslGraph['States'];
  /** States off the main path that only a failure reaches (Record failure, Run failed). */
  readonly failurePath: ReadonlySet<string>;
  /** Where the main path runs down the drawing (x), for a narrow card to show first. */
  readonly spineX: number;
}

const transitions = (state: AslStateShape | undefined): string[] =>
  [state?.Next, state?.Default, ...(state?.Choices ?? []).map((choice) => choice.Next)].filter((name): name is string =>
    Boolean(name),
  );
const catches = (state: AslStateShape | undefined): string[] => (state?.Catch ?? []).map((c) => c.Next);
const processorOf = (state: AslStateShape): AslGraph | undefined => state.ItemProcessor ?? state.Iterator;

/** Rows by longest path from StartAt (Catch edges included); a spine down the middle. */
export function layoutOf(definition: AslGraph, stages: readonly string[]): Layout {
  const states = definition.States;
  const names = Object.keys(states);
  const depth = new Map<string, number>([[definition.StartAt, 0]]);
  for (let pass = 0; pass < names.length; pass += 1)
    for (const name of names) {
      const here = depth.get(name);
      if (here === undefined) continue;
      for (const target of [...transitions(states[name]), ...catches(states[name])])
        if (states[target] && (depth.get(target) ?? -1) < here + 1) depth.set(target, here + 1);
    }
  const reach = (name: string, seen = new Set<string>()): number => {
    if (seen.has(name)) return 0;
    seen.add(name);
    return 1 + transitions(states[name]).reduce((n, t) => n + reach(t, seen), 0);
  };
  const spine = new Set<string>();
  for (let name: string | undefined = definition.StartAt; name && !spine.has(name);) {
    spine.add(name);
    name = transitions(states[name]).sort((a, b) => reach(b) - reach(a))[0];
  }
  const caughtOnly = new Set(
    names.filter(
      (n) =>
        names.some((m) => catches(states[m]).includes(n)) && !names.some((m) => transitions(states[m]).includes(n)),
    ),
  );
  const failurePath = new Set(
    names.filter(
      (name) =>
        caughtOnly.has(name) ||
        (states[name]!.Type === 'Fail' &&
          names.some((m) => caughtOnly.has(m) && transitions(states[m]).includes(name))),
    ),
  );
  const failureSide = (name: string): boolean => failurePath.has(name) || states[name]!.Type === 'Fail';
  const heightOf = (name: string): number =>
    states[name]!.Type === 'Map' ? MAP_H : stages.includes(name) ? STAGE_H : BOX_H;
  const rows: string[][] = [];
  for (const name of names) {
    const row = depth.get(name);
    if (row !== undefined) (rows[row] ??= []).push(name);
  }
  const place = new Map<string, Place>();
  let y = 0;
  for (const row of rows) {
    if (!row) continue;
    const used = new Set<number>();
    const height = Math.max(...row.map(heightOf));
    for (const name of [...row].sort((a, b) => Number(spine.has(b)) - Number(spine.has(a)))) {
      let col = spine.has(name) ? 0 : failureSide(name) ? 1 : -1;
      while (used.has(col)) col += col >= 0 ? 1 : -1;
      used.add(col);
      const h = heightOf(name);
      const w = states[name]!.Type === 'Map' ? BOX_W + MAP_EXTRA : BOX_W;
      place.set(name, { col, y: y + (height - h) / 2, h, w, x: 0 });
    }
    y += height + ROW_GAP;
  }
  const cols = [...place.values()].map((p) => p.col);
  const minCol = Math.min(...cols);
  const maxCol = Math.max(...cols);
  // Room on the right of the last column for its Catch paths' elbows.
  const width = (maxCol - minCol) * COL_GAP + BOX_W + MAP_EXTRA;
  for (const p of place.values()) p.x = (p.col - minCol) * COL_GAP + MAP_EXTRA / 2 + (BOX_W - p.w) / 2;
  const start = place.get(definition.StartAt);
  const spineX = start ? start.x + start.w / 2 : width / 2;
  return { place, width, height: y, states, failurePath, spineX };
}

function boxHtml(
  name: string,
  state: AslStateShape,
  p: Place,
  layout: Layout,
  stages: readonly string[],
  side: ReadonlySet<string>,
): string {
  const classes = [
    'state',
    state.Type === 'Choice' ? 'choice' : '',
    state.Type === 'Succeed' || state.Type === 'Fail' ? 'terminal' : '',
    side.has(name) ? 'side' : '',
    state.Type === 'Map' ? 'map' : '',
  ].filter(Boolean);
  const stage = stages.includes(name);
  const attributes = [
    `data-state="${esc(name)}"`,
    `data-type="${esc(state.Type)}"`,
    stage ? `data-stage="${esc(name)}" data-status="waiting"` : '',
    layout.failurePath.has(name) ? 'data-failure-path' : '',
  ].join(' ');
  const style = `left:${p.x}px;top:${p.y}px;width:${p.w}px;height:${p.h}px`;
  const processor = processorOf(state);
  if (state.Type === 'Map' && processor) {
    const innerNames = Object.keys(processor.States);
    const inner = innerNames
      .map((innerName, i) => {
        const failure =
          !transitions(processor.States[innerName]).length &&
          innerNames.some((n) => catches(processor.States[n]).includes(innerName));
        const first = innerName === processor.StartAt ? ' data-first' : '';
        return (
          `<div class="state inner${failure ? ' failure' : ''}" data-inner-state="${esc(innerName)}"${first} ` +
          `style="left:${12 + i * INNER_STEP}px;top:${INNER_TOP}px;width:${INNER_W}px">${esc(innerName)}<span class="count" data-count></span></div>`
        );
      })
      .join('');
    return (
      `<div class="${classes.join(' ')}" ${attributes} style="${style}"><div class="map-title"><span>${esc(name)}</span>` +
      `<span class="muted" data-iterations></span></div><small data-detail></small>${inner}<div class="bar" hidden><span></span></div></div>`
    );
  }
  const lines = stage ? '<small data-status-line></small><small data-detail></small>' : '';
  return `<div class="${classes.join(' ')}" ${attributes} style="${style}">${esc(name)}${lines}<div class="bar" hidden><span></span></div></div>`;
}

/** Edges: straight or elbowed down to the target's top; Catch paths leave from the right side. */
function edgesHtml(layout: Layout): string {
  const { place, states } = layout;
  const paths: string[] = [];
  const arrow = (catchPath: boolean): string => `marker-end="url(#arrow${catchPath ? '-catch' : ''})"`;
  for (const [from, p] of place) {
    const state = states[from]!;
    const sx = p.x + p.w / 2;
    const sy = p.y + p.h;
    for (const to of new Set(transitions(state))) {
      const q = place.get(to);
      if (!q) continue;
      const tx = q.x + q.w / 2;
      const ty = q.y;
      const mid = sy + Math.min(14, (ty - sy) / 2);
      const d =
        Math.abs(sx - tx) < 1 ? `M${sx},${sy} L${tx},${ty}` : `M${sx},${sy} L${sx},${mid} L${tx},${mid} L${tx},${ty}`;
      paths.push(`<path class="edge" data-from="${esc(from)}" data-to="${esc(to)}" d="${d}" ${arrow(false)}/>`);
    }
    for (const to of new Set(catches(state))) {
      const q = place.get(to);
      if (!q) continue;
      const x0 = p.x + p.w;
      const y0 = p.y + p.h / 2;
      const tx = q.x + q.w / 2 + 30;
      paths.push(
        `<path class="edge catch" data-from="${esc(from)}" data-to="${esc(to)}" d="M${x0},${y0} L${tx},${y0} L${tx},${q.y}" ${arrow(true)}/>`,
      );
    }
    const processor = state.Type === 'Map' ? processorOf(state) : undefined;
    if (!processor) continue;
    const innerNames = Object.keys(processor.States);
    innerNames.forEach((innerName, i) => {
      for (const to of catches(processor.States[innerName])) {
        const j = innerNames.indexOf(to);
        if (j < 0) continue;
        const x0 = p.x + 12 + i * INNER_STEP + INNER_W;
        const x1 = p.x + 12 + j * INNER_STEP;
        const yy = p.y + INNER_TOP + 14;
        paths.push(
          `<path class="edge catch" data-from="${esc(innerName)}" data-to="${esc(to)}" d="M${x0},${yy} L${x1},${yy}" ${arrow(true)}/>`,
        );
        paths.push(`<text class="edge-label" x="${(x0 + x1) / 2 - 14}" y="${yy - 4}">Catch</text>`);
      }
    });
  }
  return paths.join('');
}

const marker = (id: string, color: string): string =>
  `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" ` +
  `markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${color}"/></marker>`;

/**
 * Below this the boxes' text is too small to read: a narrower card (a phone) scrolls the drawing
 * sideways inside its frame instead of shrinking it further.
 */
const MIN_SCALE = 0.55;

/**
 * Scales the drawing to its card's width (never up, never below {@link MIN_SCALE}), so no box
 * spills out of the card: what does not fit scrolls inside the graph's own frame.
 */
export function fitGraph(layout: Layout | undefined): void {
  if (!layout) return;
  const frame = byId('graph-frame');
  const sizer = byId('graph-sizer');
  const graph = byId('graph');
  const scale = Math.min(1, Math.max(MIN_SCALE, frame.clientWidth / layout.width));
  graph.style.transform = scale < 1 ? `scale(${scale})` : '';
  sizer.style.width = `${layout.width * scale}px`;
  sizer.style.height = `${layout.height * scale}px`;
  sizer.style.marginLeft = `${Math.max(0, (frame.clientWidth - layout.width * scale) / 2)}px`;
  graph.dataset['scale'] = scale.toFixed(3);
  // When it scrolls, the main path is shown first.
  frame.scrollLeft = Math.max(0, layout.spineX * scale - frame.clientWidth / 2);
}

export function drawGraph(definition: AslGraph, stages: readonly string[], side: ReadonlySet<string>): Layout {
  const layout = layoutOf(definition, stages);
  const graph = byId('graph');
  graph.style.width = `${layout.width}px`;
  graph.style.height = `${layout.height}px`;
  const boxes = [...layout.place].map(([name, p]) => boxHtml(name, layout.states[name]!, p, layout, stages, side));
  graph.innerHTML =
    `<svg width="${layout.width}" height="${layout.height}"><defs>${marker('arrow', '#8a94a0')}${marker('arrow-catch', '#d77')}</defs>` +
    `${edgesHtml(layout)}</svg>${boxes.join('')}`;
  fitGraph(layout);
  return layout;
}

/** A stage's box: its status, time, detail (wrapped, never cut), progress bar and error. */
function paintStage(stage: StageView): void {
  const box = document.querySelector<HTMLElement>(`[data-stage="${CSS.escape(stage.name)}"]`);
  if (!box) return;
  box.dataset['status'] = stage.status;
  const seconds = stage.startedAt
    ? `${((new Date(stage.endedAt ?? Date.now()).getTime() - new Date(stage.startedAt).getTime()) / 1000).toFixed(1)} s`
    : '';
  const live =
    stage.progress && stage.status === 'running'
      ? `${stage.progress.done} of ${stage.progress.total} ${stage.progress.unit}`
      : '';
  const detail = live || stage.detail || '';
  const statusLine = box.querySelector<HTMLElement>('[data-status-line]');
  const detailLine = box.querySelector<HTMLElement>('[data-detail]')!;
  if (statusLine)
    statusLine.textContent = [stage.status !== 'waiting' ? stage.status : '', seconds].filter(Boolean).join(' · ');
  detailLine.textContent = statusLine
    ? detail
    : [stage.status, detail, seconds].filter((part) => part && part !== 'waiting').join(' · ');
  detailLine.title = detail;
  const bar = box.querySelector<HTMLElement>('.bar')!;
  bar.hidden = !stage.progress || !stage.progress.total || stage.status === 'waiting';
  if (!bar.hidden && stage.progress)
    (bar.firstElementChild as HTMLElement).style.width =
      `${Math.min(100, (100 * stage.progress.done) / stage.progress.total)}%`;
  box.dataset['progress'] = stage.progress ? `${stage.progress.done}/${stage.progress.total}` : '';
  box.title = stage.error ?? '';
}

/** Paints one run on the graph: each state's status, the stages' counts, the edges taken, the failure. */
export function paintRun(execution: ExecutionView | null, layout: Layout | undefined, stages: readonly string[]): void {
  const visits = new Map((execution?.states ?? []).map((visit) => [visit.name, visit]));
  for (const box of document.querySelectorAll<HTMLElement>('.state[data-state]')) {
    const visit = visits.get(box.dataset['state'] ?? '');
    if (!box.dataset['stage']) box.dataset['status'] = visit ? visit.status : '';
  }
  const shown: readonly StageView[] =
    execution?.stages ?? stages.map((name) => ({ name, status: 'waiting', retries: 0 }));
  for (const stage of shown) paintStage(stage);
  // A Distributed Map's iterations are child executions, outside the run's history: its first
  // state's count is the Map Run's.
  const runs = execution?.iterations;
  const mapRunVisit = runs?.started
    ? {
        entered: runs.started,
        exited: runs.succeeded + runs.failed,
        status: runs.started > runs.succeeded + runs.failed ? 'running' : 'succeeded',
      }
    : undefined;
  for (const inner of document.querySelectorAll<HTMLElement>('[data-inner-state]')) {
    const visit = visits.get(inner.dataset['innerState'] ?? '') ?? ('first' in inner.dataset ? mapRunVisit : undefined);
    inner.dataset['status'] = visit ? visit.status : '';
    inner.querySelector('[data-count]')!.textContent = visit ? String(visit.entered) : '';
    inner.title = visit ? `entered ${visit.entered} times, left ${visit.exited}` : '';
  }
  const map = document.querySelector('.state.map [data-iterations]');
  if (map)
    map.textContent = runs?.started
      ? `${runs.succeeded} of ${execution?.batches.total || runs.started} iterations${runs.failed ? `, ${runs.failed} failed` : ''}`
      : '';
  for (const edge of document.querySelectorAll('path.edge')) edge.classList.remove('taken');
  for (const taken of execution?.edges ?? [])
    document
      .querySelector(`path.edge[data-from="${CSS.escape(taken.from)}"][data-to="${CSS.escape(taken.to)}"]`)
      ?.classList.add('taken');
  // The error beside the stage that failed (or the execution's, when no stage did).
  document.querySelectorAll('.callout').forEach((callout) => callout.remove());
  const failedStage = (execution?.stages ?? []).find(
    (stage) => stage.status === 'failed' && (stage.error || execution?.error),
  );
  const p = failedStage && layout?.place.get(failedStage.name);
  if (failedStage && p) {
    const callout = document.createElement('div');
    callout.className = 'callout';
    callout.dataset['errorFor'] = failedStage.name;
    callout.textContent = failedStage.error ?? `${execution?.error}: ${execution?.cause ?? ''}`;
    callout.style.left = `${Math.max(0, p.x - 250)}px`;
    callout.style.top = `${p.y}px`;
    byId('graph').append(callout);
  }
}
