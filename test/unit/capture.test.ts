/**
 * What a stream record means for the index (stream mode), and the event filter the local stream
 * follower applies as Lambda's event source mapping does.
 */
import { waitsForLease } from '../../tasks/indexer-handlers.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../config/config.ts';
import { decideChange, type StreamRecord } from '../../indexer/capture.ts';
import { matchesPattern, UnsupportedPatternError } from '../../lambda-host/event-filter.ts';
import { changeMarkerKey, itemOfChangeMarker, RESERVED_GROUP, sortableSequence } from '../../table/reserved-items.ts';
import { captureFilterPattern } from '../../tasks/capture-handler.ts';

const config = loadConfig({ flags: { 'change-capture': 'stream' }, env: {}, cwd: '/nonexistent-dir' });
type Image = Record<string, AttributeValue>;
const keys = (group = 'g', id = 'a'): Image => ({ content_group: { S: group }, content_id: { S: id } });
const image = (text: string | undefined, extra: Image = {}): Image => ({
  ...keys(),
  ...(text === undefined ? {} : { content: { S: text } }),
  ...extra,
});
const record = (eventName: string, oldImage?: Image, newImage?: Image, extra: Partial<StreamRecord> = {}) => ({
  eventName,
  dynamodb: {
    Keys: keys(),
    SequenceNumber: '100',
    ...(oldImage ? { OldImage: oldImage } : {}),
    ...(newImage ? { NewImage: newImage } : {}),
  },
  ...extra,
});

describe('decideChange', () => {
  it('captures inserts, text and filterable-attribute edits, removals (TTL too) and text dropped', () => {
    const cases: [string, StreamRecord][] = [
      ['insert', record('INSERT', undefined, image('hello'))],
      ['text edited', record('MODIFY', image('hello'), image('hello there'))],
      [
        'filterable attribute edited',
        record('MODIFY', image('hello', { year: { N: '1' } }), image('hello', { year: { N: '2' } })),
      ],
      ['delete', record('REMOVE', image('hello'))],
      [
        'TTL expiry',
        record('REMOVE', image('hello'), undefined, {
          userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
        }),
      ],
      ['text dropped', record('MODIFY', image('hello'), image(undefined))],
      [
        'text edited by a writer that left an older flag as it was',
        record(
          'MODIFY',
          image('hello', { faiss_pending: { N: '7' } }),
          image('hello there', { faiss_pending: { N: '7' } }),
        ),
      ],
      ['a keys-only stream (no images)', record('MODIFY')],
    ];
    for (const [name, given] of cases)
      assert.deepEqual(
        decideChange(config, given),
        { kind: 'change', key: { group: 'g', id: 'a' }, sequence: '100' },
        name,
      );
  });

  it('leaves a write that set a fresh flag (import, a flags-mode writer) to its flag: a run, no marker', () => {
    for (const [name, given] of [
      [
        'a flag set on an unchanged item',
        record('MODIFY', image('hello'), image('hello', { faiss_pending: { N: '7' } })),
      ],
      ['an import', record('INSERT', undefined, image('hello', { faiss_pending: { N: '7' } }))],
      [
        'a text edit with a fresh flag',
        record('MODIFY', image('hello', { faiss_pending: { N: '6' } }), image('bye', { faiss_pending: { N: '7' } })),
      ],
    ] as const)
      assert.deepEqual(decideChange(config, given), { kind: 'flagged' }, name);
  });

  it('ignores what the index does not reflect, and every write of its own', () => {
    const cases: [string, StreamRecord, string][] = [
      ['unchanged rewrite', record('MODIFY', image('hello'), image('hello')), 'unchanged'],
      ['a flag cleared', record('MODIFY', image('hello', { faiss_pending: { N: '7' } }), image('hello')), 'unchanged'],
      [
        'an attribute that is not filterable',
        record('MODIFY', image('hello', { tags: { SS: ['a'] } }), image('hello', { tags: { SS: ['b'] } })),
        'unchanged',
      ],
      ['an item without text', record('INSERT', undefined, image(undefined, { kind: { S: 'profile' } })), 'no text'],
      [
        'a soft delete carried out by a run',
        record('REMOVE', image('hello', { faiss_delete: { BOOL: true } })),
        'soft delete',
      ],
      [
        'a change marker',
        { eventName: 'INSERT', dynamodb: { Keys: keys(RESERVED_GROUP, 'change#g#a'), SequenceNumber: '1' } },
        'own item',
      ],
      ['no keys', { eventName: 'INSERT', dynamodb: { SequenceNumber: '1' } }, 'unreadable'],
    ];
    for (const [name, given, reason] of cases)
      assert.deepEqual(decideChange(config, given), { kind: 'ignore', reason }, name);
  });
});

describe('change markers', () => {
  it('stand for their item, whatever its group and id hold', () => {
    for (const item of [
      { group: 'g', id: 'a' },
      { group: 'a#b', id: 'c#d' },
      { group: '%2F', id: '' },
    ])
      assert.deepEqual(itemOfChangeMarker(changeMarkerKey(item)), item);
    assert.equal(itemOfChangeMarker({ group: RESERVED_GROUP, id: 'writer-lease' }), undefined);
  });

  it('order sequence numbers of any length as numbers', () => {
    assert.ok(sortableSequence('999999999999999999999') < sortableSequence('1000000000000000000000'));
  });
});

describe('the capture filter, as the local follower applies it', () => {
  it("drops ddb-faiss's own items and keeps every other", () => {
    const pattern = captureFilterPattern(config);
    assert.equal(matchesPattern(pattern, record('INSERT', undefined, image('x'))), true);
    assert.equal(matchesPattern(pattern, { dynamodb: { Keys: keys(RESERVED_GROUP, 'writer-lease') } }), false);
    assert.equal(matchesPattern(pattern, { dynamodb: {} }), false, 'a record without the key is dropped');
  });

  it('applies exists and prefix, and refuses an operator it does not know', () => {
    assert.equal(matchesPattern({ a: [{ exists: false }] }, {}), true);
    assert.equal(matchesPattern({ a: [{ prefix: 'ab' }] }, { a: 'abc' }), true);
    assert.equal(matchesPattern({ a: ['x', 'y'] }, { a: 'y' }), true);
    assert.throws(() => matchesPattern({ a: [{ numeric: ['>', 1] }] }, { a: 2 }), UnsupportedPatternError);
  });
});

describe('who waits for the writer lease', () => {
  it('a captured run always; in stream mode a run by hand too; a scheduled run never', () => {
    // Prepare
    const name = (origin: string) => `${origin}-2026-12-06T08-00-00-000Z-abcd`;
    const modes = ['stream', 'flags'] as const;
    // Act
    const waits = Object.fromEntries(
      ['captured', 'manual', 'backfill', 'scheduled', 'other'].map((origin) => [
        origin,
        modes.map((changeCapture) => waitsForLease({ changeCapture }, name(origin))),
      ]),
    );
    // Assess: [stream, flags]
    assert.deepEqual(waits, {
      captured: [true, true],
      manual: [true, false],
      backfill: [true, false],
      scheduled: [false, false],
      other: [false, false],
    });
  });
});
