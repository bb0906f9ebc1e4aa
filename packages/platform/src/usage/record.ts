import type { Db, Prisma } from '../db/client.ts';
import { addUsage, type UsageTotals } from './summary.ts';

/**
 * Writes one usage row and, when it is a job's (its own run or a sample set of it), folds it into the job's running
 * totals (`jobs.usage`, read by every GET of the job) in the same transaction: the two never disagree. Writers of
 * one job's usage (its run and its sample sets, maybe on other workers) queue on the job row's lock, which the
 * `usage_rows` bump takes before the totals are read.
 */
export async function recordUsage(db: Db, data: Prisma.UsageRecordUncheckedCreateInput): Promise<void> {
  await db.$transaction(async (tx) => {
    await tx.usageRecord.create({ data });
    const jobId = data.job_id;
    if (!jobId) return;
    const locked = await tx.job.updateMany({ where: { id: jobId }, data: { usage_rows: { increment: 1 } } });
    if (locked.count === 0) return; // no such job (a meter test's made-up id): the row alone is the record
    const job = await tx.job.findUniqueOrThrow({ where: { id: jobId }, select: { usage: true } });
    const usage = addUsage(job.usage as UsageTotals, data);
    await tx.job.update({ where: { id: jobId }, data: { usage: usage as Prisma.InputJsonValue } });
  });
}
