import { describe, expect, test } from 'vitest';
import { catalogSnapshotKeyOf } from '../../shared/core/catalog-snapshot.ts';
import { storedCatalog } from '../../shared/producer/catalog-source.ts';
import type { ObjectStore } from '../../shared/producer/ports.ts';
import { catalogSnapshot } from '../helpers/catalog-factory.ts';

/** A store holding text objects in memory, counting reads; only `getText` is used. */
function memoryStore(objects: Map<string, string>) {
  const reads: string[] = [];
  const store = {
    async getText(_bucket: string, key: string) {
      reads.push(key);
      return objects.get(key) ?? null;
    },
  } as unknown as ObjectStore;
  return { store, reads };
}

const key = catalogSnapshotKeyOf('orders');
const v1 = JSON.stringify(catalogSnapshot('orders', { id: 'int8' }, ['id'], { readAt: 'v1' }));
const v2 = JSON.stringify(catalogSnapshot('orders', { id: 'int8', colour: 'text' }, ['id'], { readAt: 'v2' }));

describe('storedCatalog', () => {
  test('keeps a snapshot for maxAgeMs, then reads it again', async () => {
    const objects = new Map([[key, v1]]);
    const { store, reads } = memoryStore(objects);
    let clock = 0;
    const catalog = storedCatalog(store, 'staging', { maxAgeMs: 1000, now: () => clock });

    expect((await catalog.get('orders'))!.readAt).toBe('v1');
    objects.set(key, v2);
    clock = 999;
    expect((await catalog.get('orders'))!.readAt).toBe('v1');
    clock = 1000;
    expect((await catalog.get('orders'))!.readAt).toBe('v2');
    expect(reads).toHaveLength(2);
  });

  test('refresh reads it again at once, after the reread hook', async () => {
    const objects = new Map([[key, v1]]);
    const { store } = memoryStore(objects);
    const catalog = storedCatalog(store, 'staging', { reread: async () => void objects.set(key, v2) });

    await catalog.get('orders');

    expect((await catalog.refresh('orders'))!.readAt).toBe('v2');
  });

  test('none yet: null, unless the reread hook can write one', async () => {
    const objects = new Map<string, string>();
    expect(await storedCatalog(memoryStore(objects).store, 'staging').get('orders')).toBeNull();
    const writing = storedCatalog(memoryStore(objects).store, 'staging', { reread: async () => void objects.set(key, v1) });
    expect((await writing.get('orders'))!.readAt).toBe('v1');
  });

  test('an unreadable snapshot is as if there were none', async () => {
    expect(await storedCatalog(memoryStore(new Map([[key, '{"format":9}']])).store, 'staging').get('orders')).toBeNull();
  });
});
