import type { SourceEvent } from './records.ts';
import { textOfJsonValue, type TextValue } from './values.ts';

type Row = Extract<SourceEvent, { kind: 'row' }>;

/**
 * The columns of a stream of JSON objects (NDJSON lines, the elements of a JSON array): every key
 * seen so far, in the order first seen. Objects may differ in their keys: a key an object does
 * not carry is absent in its row (not NULL), and a key not seen before extends the columns.
 */
export class JsonObjectColumns {
  readonly #index = new Map<string, number>();
  readonly names: string[] = [];

  /** `known`: the keys of a resumed read, as the earlier invocation numbered them. */
  constructor(known: readonly string[] = []) {
    for (const name of known) this.#add(name);
  }

  #add(name: string): number {
    const i = this.names.length;
    this.#index.set(name, i);
    this.names.push(name);
    return i;
  }

  /**
   * The events of one object: a `columns` event first when it brings keys not seen before (the
   * first object's is the file's initial one), then its row.
   */
  eventsOf(object: Record<string, unknown>, row: number, line: number, resume: Row['resume'], raw: string): SourceEvent[] {
    const before = this.names.length;
    let carried = 0;
    const indexes: number[] = [];
    for (const name in object) {
      let i = this.#index.get(name);
      if (i === undefined) i = this.#add(name);
      indexes.push(i);
    }
    const values: TextValue[] = new Array<TextValue>(this.names.length).fill(null);
    let k = 0;
    for (const name in object) {
      const i = indexes[k++]!;
      values[i] = textOfJsonValue(object[name]);
      carried++;
    }
    const event: Row = { kind: 'row', row, line, values, raw, ...(resume ? { resume } : {}) };
    if (carried < values.length) {
      const seen = new Uint8Array(values.length);
      for (const i of indexes) seen[i] = 1;
      const absent: number[] = [];
      for (let i = 0; i < values.length; i++) if (seen[i] === 0) absent.push(i);
      event.absent = absent;
    }
    if (this.names.length === before) return [event];
    const columns: SourceEvent = before === 0 ? { kind: 'columns', names: [...this.names] } : { kind: 'columns', names: [...this.names], extends: true };
    return [columns, event];
  }
}
