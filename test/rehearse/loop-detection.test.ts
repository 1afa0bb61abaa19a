import { createServer } from 'node:http';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, test } from 'vitest';
import { decideInvocation, hopsOf, invocationTraceHeader, MAX_RECURSIVE_INVOCATIONS } from '../../rehearse/loop-detection.ts';

// Issue 24, item 2: the rehearsal's stand-in for Lambda's recursive loop detection
// (rehearse/loop-detection.ts), and the SDK behaviour it relies on.

/** The invocations of a chain of continuations: each one's trace header travels with the message it sends. */
function chain(invocations: number, recursiveLoop: 'Allow' | 'Terminate') {
  let header: string | undefined;
  const decisions = [];
  for (let i = 0; i < invocations; i++) {
    const decision = decideInvocation(header, 'landfall-producer', recursiveLoop);
    decisions.push(decision);
    if (decision.dropped) break;
    header = decision.traceHeader;
  }
  return decisions;
}

describe('loop detection', () => {
  test(`with Terminate (Lambda's default) the ${MAX_RECURSIVE_INVOCATIONS + 1}th invocation of a chain is dropped`, () => {
    const decisions = chain(40, 'Terminate');
    expect(decisions.filter((d) => !d.dropped).map((d) => d.hops)).toEqual(Array.from({ length: MAX_RECURSIVE_INVOCATIONS }, (_, i) => i + 1));
    expect(decisions.at(-1)).toMatchObject({ hops: MAX_RECURSIVE_INVOCATIONS + 1, dropped: true });
  });

  test('with Allow a chain runs on', () => {
    const decisions = chain(40, 'Allow');
    expect(decisions).toHaveLength(40);
    expect(decisions.some((d) => d.dropped)).toBe(false);
    expect(decisions.at(-1)!.hops).toBe(40);
  });

  test("a message of another function's chain starts a new count (the consumer invoked by the producer's batches)", () => {
    const producerHeader = invocationTraceHeader(invocationTraceHeader(undefined, 'landfall-producer'), 'landfall-producer');
    expect(hopsOf(producerHeader, 'landfall-producer')).toBe(2);
    expect(decideInvocation(producerHeader, 'landfall-consumer', 'Terminate').hops).toBe(1);
  });

  test('the chain keeps its trace root', () => {
    const first = invocationTraceHeader(undefined, 'landfall-producer');
    const root = /Root=([^;]+)/.exec(first)![1];
    expect(invocationTraceHeader(first, 'landfall-producer')).toContain(`Root=${root};`);
  });
});

describe("the SDK's recursion-detection middleware (what carries the chain in AWS)", () => {
  const saved = { name: process.env.AWS_LAMBDA_FUNCTION_NAME, trace: process.env._X_AMZN_TRACE_ID };
  afterEach(() => {
    for (const [key, value] of [['AWS_LAMBDA_FUNCTION_NAME', saved.name], ['_X_AMZN_TRACE_ID', saved.trace]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  async function sentTraceHeader(): Promise<string | undefined> {
    let header: string | undefined;
    const server = createServer((req, res) => {
      header = req.headers['x-amzn-trace-id'] as string | undefined;
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ MessageId: 'm-1', MD5OfMessageBody: 'dd97826fb4e6e6d95e8e8d7f7f9ba2a5' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as { port: number };
    const sqs = new SQSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, md5: false } as never);
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: `http://127.0.0.1:${port}/000000000000/landfall-intake`, MessageBody: 'continue' })).catch(() => {});
    } finally {
      sqs.destroy();
      server.close();
    }
    return header;
  }

  test("inside a Lambda invocation, a SendMessage carries the invocation's trace header", async () => {
    const header = invocationTraceHeader(undefined, 'landfall-producer');
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'landfall-producer';
    process.env._X_AMZN_TRACE_ID = header;
    expect(await sentTraceHeader()).toBe(header);
  });

  test('outside Lambda it carries none', async () => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    delete process.env._X_AMZN_TRACE_ID;
    expect(await sentTraceHeader()).toBeUndefined();
  });
});
