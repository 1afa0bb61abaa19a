import { createHash, randomBytes } from 'node:crypto';

/**
 * Lambda's recursive loop detection, as the rehearsal simulates it. Lambda tracks a chain of
 * invocations in the X-Ray trace header's `Lineage` field: the SDK's recursion-detection
 * middleware copies the invocation's `_X_AMZN_TRACE_ID` onto every request the function makes
 * (`X-Amzn-Trace-Id`), SQS keeps it with the message (`AWSTraceHeader`), and the next invocation
 * the message causes counts one more hop. With the function's `RecursiveLoop` at `Terminate`
 * (the default) Lambda stops the 17th invocation of a chain: for an SQS event source the record
 * is not processed, goes back to the queue and, after maxReceiveCount, to its dead-letter queue,
 * and the function's `RecursiveInvocationsDropped` metric counts it. `Allow` lets the chain run.
 *
 * The exact header Lambda writes is internal; this rendering (`Lineage=<function hash>:<hop>`)
 * carries what the rule needs: which function the chain is of, and how many hops it has made.
 */
export const MAX_RECURSIVE_INVOCATIONS = 16;

export type RecursiveLoop = 'Allow' | 'Terminate';

/** A short stable id of a function in the lineage. */
export const lineageIdOf = (functionName: string) => createHash('sha256').update(functionName).digest('hex').slice(0, 8);

/** The hops a trace header records for a function's chain (0 when it records none). */
export function hopsOf(traceHeader: string | undefined, functionName: string): number {
  const lineage = /(?:^|;)Lineage=([^;]*)/.exec(traceHeader ?? '')?.[1];
  if (!lineage) return 0;
  const id = lineageIdOf(functionName);
  for (const entry of lineage.split(',')) {
    const [hash, count] = entry.split(':');
    if (hash === id) return Number(count) || 0;
  }
  return 0;
}

/** The trace header of an invocation caused by a record carrying `traceHeader` (the same trace, one more hop). */
export function invocationTraceHeader(traceHeader: string | undefined, functionName: string): string {
  const hops = hopsOf(traceHeader, functionName) + 1;
  const root = /(?:^|;)Root=([^;]+)/.exec(traceHeader ?? '')?.[1] ?? `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
  return `Root=${root};Parent=${randomBytes(8).toString('hex')};Sampled=0;Lineage=${lineageIdOf(functionName)}:${hops}`;
}

export interface LoopDecision {
  /** Hops this invocation would be in its chain (1 for a record no function of the chain sent). */
  hops: number;
  /** Lambda stops it (Terminate, past 16 hops). */
  dropped: boolean;
  /** The trace header the invocation runs with. */
  traceHeader: string;
}

/** What Lambda does with a record whose message carried `traceHeader`, for a function with `recursiveLoop`. */
export function decideInvocation(traceHeader: string | undefined, functionName: string, recursiveLoop: RecursiveLoop): LoopDecision {
  const next = invocationTraceHeader(traceHeader, functionName);
  const hops = hopsOf(next, functionName);
  return { hops, dropped: recursiveLoop === 'Terminate' && hops > MAX_RECURSIVE_INVOCATIONS, traceHeader: next };
}

/** What the rehearsal saw of one function's chains. */
export interface LoopRecord {
  /** The longest chain an invocation was part of. */
  maxHops: number;
  /** Records Lambda would have stopped (its RecursiveInvocationsDropped). */
  dropped: number;
}
