/**
 * The event the stack's deploy step sends the consumer (a CloudFormation custom resource that
 * invokes it after every deploy that changes the config or the code): prepare every configured
 * table, which writes its catalog snapshot to staging before the first file, or records it as
 * blocked with the reason and the fix. The one codec of that payload, for the stack and the handler.
 */
export const PrepareTablesEvent = { landfall: 'prepare-tables' } as const;

export function isPrepareTablesEvent(event: unknown): event is typeof PrepareTablesEvent {
  return typeof event === 'object' && event !== null && (event as { landfall?: unknown }).landfall === PrepareTablesEvent.landfall;
}
