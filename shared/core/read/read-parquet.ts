import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData, type SchemaElement } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { UnreadableFileError, UnreadableReason } from './errors.ts';
import type { SourceEvent } from './records.ts';
import { PARQUET_TEXT_PARSERS, textOfParquetValue, type TextValue } from './values.ts';

export type { AsyncBuffer } from 'hyparquet';

function decimalScale(element: SchemaElement): number | undefined {
  if (element.converted_type === 'DECIMAL' || element.logical_type?.type === 'DECIMAL') return element.scale ?? 0;
  return undefined;
}

/**
 * Streams a Parquet file one row group at a time (memory is bounded by the largest row
 * group), with every codec of `hyparquet-compressors`. Nested values become JSON text,
 * timestamps keep all their digits, decimals their scale (exact up to ~15 digits: hyparquet
 * decodes them as doubles). A file hyparquet cannot decode is unreadable.
 */
export async function* readParquet(file: AsyncBuffer): AsyncGenerator<SourceEvent> {
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw new UnreadableFileError(UnreadableReason.corruptParquet, `not a readable Parquet file: ${(error as Error).message}`, {}, { cause: error });
  }
  const fields = parquetSchema(metadata).children.map((child) => child.element);
  const names = fields.map((element) => element.name);
  const scales = fields.map(decimalScale);
  yield { kind: 'columns', names };
  let rowStart = 0;
  for (const [index, group] of metadata.row_groups.entries()) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: unknown[][] = [];
    try {
      await parquetRead({
        file,
        metadata,
        rowStart,
        rowEnd,
        compressors,
        parsers: PARQUET_TEXT_PARSERS,
        onComplete: (result: unknown[][]) => {
          rows = result;
        },
      });
    } catch (error) {
      throw new UnreadableFileError(
        UnreadableReason.corruptParquet,
        `row group ${index} (rows ${rowStart + 1}-${rowEnd}) cannot be decoded: ${(error as Error).message}`,
        { line: rowStart + 1 },
        { cause: error },
      );
    }
    for (let r = 0; r < rows.length; r++) {
      const source = rows[r]!;
      const values: TextValue[] = new Array<TextValue>(names.length);
      for (let c = 0; c < names.length; c++) {
        const value = source[c];
        const scale = scales[c];
        values[c] = scale !== undefined && typeof value === 'number' && Math.abs(value) < 1e21 ? value.toFixed(scale) : textOfParquetValue(value);
      }
      const row = rowStart + r + 1;
      yield { kind: 'row', row, line: row, values };
    }
    rows = [];
    rowStart = rowEnd;
  }
}
