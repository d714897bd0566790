/** Small helpers the page's modules share: elements by id, HTML escaping, JSON requests, durations. */

/** The element with `id`; the page's markup (`index.html`) has every id the code names. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/** Text made safe inside HTML and attribute values. */
export const esc = (text: unknown): string => String(text ?? '').replace(/[&<>"]/g, (c) => ENTITIES[c] ?? c);

/** A JSON request; a refusal throws with the server's message. */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const body = (await response.json().catch(() => ({}))) as T & { message?: string };
  if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
  return body;
}

/** A JSON POST from this page (the monitor takes POSTs only as JSON from its own origin). */
export const postJson = <T>(url: string, body: unknown): Promise<T> =>
  getJson<T>(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Seconds for people: "0.6 s", "12.4 s", "3 min 05 s". */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`;
}

/** A date for people, in the browser's locale; empty for none. */
export const formatDate = (iso: string | undefined): string => (iso ? new Date(iso).toLocaleString() : '');
