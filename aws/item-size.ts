/**
 * The size DynamoDB counts for an item, by its documented rules: each attribute is its name's
 * UTF-8 bytes plus its value's (strings: UTF-8 bytes; numbers: about one byte per two
 * significant digits, plus one, as DynamoDB counts them (checked against DynamoDB Local); binary: bytes;
 * booleans and nulls: one byte; lists and maps: three bytes plus one per element, plus their
 * elements). An item may be at most 400 KB.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** DynamoDB's item size limit, in bytes. */
export const MAX_ITEM_BYTES = 400 * 1024;

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Numbers: one byte, plus one per two significant digits (padded by the exponent's parity), plus one if negative. */
function numberBytes(text: string): number {
  const match = /^([-+]?)(\d*)(?:\.(\d*))?(?:e([-+]?\d+))?$/i.exec(text.trim());
  if (!match) return 1 + Math.ceil(text.length / 2);
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  const all = whole + fraction;
  const first = all.search(/[1-9]/);
  if (first === -1) return 1; // zero
  const digits = all.slice(first).replace(/0+$/, '').length;
  const power = whole.length - first - 1 + Number(exponent);
  return 1 + Math.ceil(digits / 2) + (digits % 2 !== 0 || power % 2 !== 0 ? 0 : 1) + (sign === '-' ? 1 : 0);
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, text) => sum + utf8(text), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, text) => sum + numberBytes(text), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, bytes) => sum + bytes.byteLength, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((sum, element) => sum + 1 + valueBytes(element), 0);
  if (value.M !== undefined)
    return 3 + Object.entries(value.M).reduce((sum, [name, element]) => sum + 1 + utf8(name) + valueBytes(element), 0);
  return 0;
}

/** The item's size as DynamoDB counts it against {@link MAX_ITEM_BYTES}. */
export function itemSizeBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueBytes(value), 0);
}
