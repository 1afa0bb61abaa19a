import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, describe, expect, test } from 'vitest';
import { createSqsClient } from '../../shared/aws/clients.ts';
import { type Poller, startLambdaPoller, type SqsHandler, wakePollersOn } from '../../shared/local/lambda-poller.ts';

/**
 * A stopped poller leaves nothing behind on a shared emulator (issue 26 item 4): its long poll in
 * flight is not abandoned to take a message that arrives just after, which the emulator would
 * keep invisible for the queue's visibility timeout while the next stack (another
 * `landfall run` on the same emulator) waits for it.
 */
const emulator = await startFauxqs({ port: 0, logger: false });
afterAll(() => emulator.stop());
const sqs = createSqsClient({ endpoint: `http://127.0.0.1:${emulator.port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
// A visibility timeout far longer than the test: a message taken by a poll that nobody reads would not come back in it.
const { queueUrl } = emulator.createQueue('poller-intake', { attributes: { VisibilityTimeout: '3600' } });

function poller(handled: string[], url = queueUrl) {
  const handler: SqsHandler = async (event) => {
    for (const record of event.Records) handled.push(record.body);
  };
  return startLambdaPoller({ name: 'producer', sqs, queueUrl: url, region: 'us-east-1', handler, batchSize: 1, concurrency: 2 });
}

describe('the local Lambda poller', () => {
  test('a message sent the moment a poller stopped is handled by the next one', async () => {
    const first: string[] = [];
    const stopped = poller(first);
    // Let it park its long polls on the empty queue.
    await new Promise((r) => setTimeout(r, 300));
    await stopped.stop();

    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'the next drop' }));
    const second: string[] = [];
    const next = poller(second);
    try {
      await expect.poll(() => [...first, ...second], { timeout: 15_000, interval: 50 }).toEqual(['the next drop']);
    } finally {
      await next.stop();
    }
  });

  test('an idle poller stops at once: it leaves no long poll to wait out', async () => {
    const idle = poller([]);
    // Idle long enough to be sleeping its longest between receives.
    await new Promise((r) => setTimeout(r, 1500));
    const started = Date.now();
    await idle.stop();
    expect(Date.now() - started).toBeLessThan(200);
  });

  test('a message this process sends wakes the poller of its queue: handled without waiting for its next receive', async () => {
    // GIVEN a client whose sends wake the pollers, and a poller idle long enough to sleep its longest
    const { queueUrl: woken } = emulator.createQueue('poller-woken', { attributes: { VisibilityTimeout: '3600' } });
    const waking = createSqsClient({ endpoint: `http://127.0.0.1:${emulator.port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const pollers: Poller[] = [];
    wakePollersOn(waking, pollers);
    const handled: string[] = [];
    pollers.push(poller(handled, woken));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      // WHEN a message is sent through it
      const sent = Date.now();
      await waking.send(new SendMessageCommand({ QueueUrl: woken, MessageBody: 'a batch' }));
      // THEN it is handled well within the idle sleep (500 ms)
      await expect.poll(() => handled, { timeout: 5_000, interval: 5 }).toEqual(['a batch']);
      expect(Date.now() - sent).toBeLessThan(250);
    } finally {
      await pollers[0]!.stop();
    }
  });
});
