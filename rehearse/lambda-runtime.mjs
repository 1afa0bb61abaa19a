// The rehearsal's stand-in for Lambda's Node.js runtime: one container per process. It loads the
// bundled handler (argv[2], its export argv[3]) once, as Lambda's init phase does, then runs one
// invocation per IPC message. A handler that throws is an invocation error, as in Lambda.
import { pathToFileURL } from 'node:url';

const [, , bundle, exportName, functionName, memory, timeoutSeconds] = process.argv;
let handler;
let initError;
try {
  handler = (await import(pathToFileURL(bundle).href))[exportName];
  if (typeof handler !== 'function') throw new Error(`${bundle} exports no function ${exportName}`);
} catch (error) {
  initError = error;
  console.error(JSON.stringify({ level: 'ERROR', message: 'Runtime.ImportModuleError', errorType: error?.name, errorMessage: error?.message }));
}

process.on('message', async ({ id, event, traceHeader }) => {
  if (initError) return process.send({ id, ok: false, error: `init failed: ${initError.message}` });
  // Lambda's runtime sets the invocation's trace header here; the SDK's recursion-detection
  // middleware copies it onto every request (X-Amzn-Trace-Id), as the loop detection relies on.
  if (traceHeader) process.env._X_AMZN_TRACE_ID = traceHeader;
  else delete process.env._X_AMZN_TRACE_ID;
  const deadline = Date.now() + Number(timeoutSeconds) * 1000;
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${functionName}`,
    memoryLimitInMB: memory,
    awsRequestId: `rehearsal-${id}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'rehearsal',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(event, context);
    process.send({ id, ok: true, result: result ?? null });
  } catch (error) {
    console.error(JSON.stringify({ level: 'ERROR', message: 'Invoke Error', errorType: error?.name, errorMessage: error?.message }));
    process.send({ id, ok: false, error: error?.message ?? String(error) });
  }
});
process.send({ ready: true });
