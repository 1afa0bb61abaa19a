import { z } from 'zod';

/**
 * What happens to a table's files in the inbox after they arrived: a table config's optional
 * `inbox` object. The stack turns it into an S3 lifecycle rule on the table's prefix. Without it
 * the files are kept (S3 Standard, about $23.55 per TB-month in us-east-1).
 *
 * @example { "table": "public.orders", "inbox": { "transitionAfterDays": 30, "storageClass": "GLACIER_IR", "expireAfterDays": 365 } }
 */
export const InboxStorageClass = ['STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const;
export type InboxStorageClass = (typeof InboxStorageClass)[number];

/** S3 moves objects to the infrequent-access classes no sooner than 30 days after they were created. */
const INFREQUENT_ACCESS_MIN_DAYS = 30;

const days = z.number().int('must be a whole number of days').min(1, 'must be at least 1 day').max(36_500, 'must be at most 36500 (100 years)');

export const inboxSchema = z.strictObject({
  /** Days after a file arrived before it is deleted (in the versioned inbox: a delete marker, the data expires 30 days later). */
  expireAfterDays: days.optional(),
  /** Days after a file arrived before it moves to `storageClass`. */
  transitionAfterDays: days.optional(),
  storageClass: z.enum(InboxStorageClass).optional(),
});

export type InboxLifecycle = z.output<typeof inboxSchema>;

/** The checks across an `inbox` object's fields, as "inbox.field: message". */
export function inboxProblems(inbox: InboxLifecycle | undefined): string[] {
  if (!inbox) return [];
  const problems: string[] = [];
  const { expireAfterDays, transitionAfterDays, storageClass } = inbox;
  if ((transitionAfterDays === undefined) !== (storageClass === undefined)) {
    problems.push('inbox: transitionAfterDays and storageClass go together (when, and to which storage class)');
  }
  if (storageClass && transitionAfterDays !== undefined && (storageClass === 'STANDARD_IA' || storageClass === 'ONEZONE_IA') && transitionAfterDays < INFREQUENT_ACCESS_MIN_DAYS) {
    problems.push(`inbox.transitionAfterDays: ${transitionAfterDays} is too soon for ${storageClass}: S3 moves files there no sooner than ${INFREQUENT_ACCESS_MIN_DAYS} days`);
  }
  if (expireAfterDays !== undefined && transitionAfterDays !== undefined && expireAfterDays <= transitionAfterDays) {
    problems.push(`inbox.expireAfterDays: ${expireAfterDays} must come after transitionAfterDays (${transitionAfterDays})`);
  }
  if (expireAfterDays === undefined && transitionAfterDays === undefined && storageClass === undefined) {
    problems.push('inbox: give expireAfterDays, or transitionAfterDays with storageClass (leave "inbox" out to keep the files as they are)');
  }
  return problems;
}
