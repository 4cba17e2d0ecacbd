/**
 * `health`: runs the silent-failure checks for one game date and returns one report. A check
 * that cannot reach its backend fails (with the reason) instead of aborting the run, so the
 * report, and the alert built from it, still goes out when the warehouse is what is down.
 */

import type { Backends } from '../backends/ports.js';
import type { ResolvedConfig } from '../config.js';
import type { GameDate } from '../dates.js';
import { UserError, Unavailable, errorMessage } from '../errors.js';
import { CHECKS, CHECK_NAMES, type CheckName, type CheckResult } from './checks.js';
import { CountingWarehouse, GuardedDocuments } from './counting.js';
import { HealthData } from './data.js';

export { CHECK_NAMES, type CheckName, type CheckResult, type CheckStatus } from './checks.js';

export type BackendName = 'warehouse' | 'documents';

export interface HealthReport {
  game_date: GameDate;
  /** The moment ages and deadlines were judged against. */
  as_of: Date;
  status: 'pass' | 'warn' | 'fail';
  checks: CheckResult[];
  /** Warehouse queries the run cost. */
  queries: number;
  /** Backends that could not be reached; the command exits 4 when this is not empty. */
  unavailable: BackendName[];
}

export interface HealthOptions {
  date: GameDate;
  /** Only these checks (default: all), in the order of CHECK_NAMES. */
  checks?: CheckName[];
  /** Judge as of this moment (post-mortems, tests); default: server time. */
  asOf?: Date;
}

export function parseCheckNames(input: string[] | undefined): CheckName[] {
  if (!input || input.length === 0) return [...CHECK_NAMES];
  const names = input
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(CHECK_NAMES as readonly string[]).includes(n));
  if (unknown.length) {
    throw new UserError(`Unknown check ${unknown.map((n) => `"${n}"`).join(', ')}`, {
      hint: `Accepted: ${CHECK_NAMES.join(', ')}.`,
    });
  }
  return CHECK_NAMES.filter((n) => names.includes(n));
}

export async function runHealth(
  context: { config: ResolvedConfig; backends: Backends },
  options: HealthOptions,
): Promise<HealthReport> {
  const warehouse = new CountingWarehouse(context.backends.warehouse);
  const documents = new GuardedDocuments(context.backends.documents);
  const data = new HealthData(
    context.config,
    context.backends,
    warehouse,
    documents,
    options.date,
    options.asOf,
  );
  const names = options.checks ?? [...CHECK_NAMES];

  const checks = await Promise.all(
    names.map(async (name): Promise<CheckResult> => {
      try {
        return { name, ...(await CHECKS[name](data)) };
      } catch (error) {
        if (error instanceof UserError) throw error;
        const backend =
          error === warehouse.down ? 'warehouse' : error === documents.down ? 'documents' : null;
        return failedCheck(name, backend, error);
      }
    }),
  );

  const unavailable: BackendName[] = [];
  if (warehouse.down) unavailable.push('warehouse');
  if (documents.down) unavailable.push('documents');
  return {
    game_date: options.date,
    as_of: await data.now(),
    status: overall(checks),
    checks,
    queries: warehouse.queries,
    unavailable,
  };
}

/** The report when the backends could not even be opened: every check fails with the cause. */
export function unreachableReport(
  options: HealthOptions,
  error: Unavailable,
  backend: BackendName = 'warehouse',
): HealthReport {
  const checks = (options.checks ?? [...CHECK_NAMES]).map((name) =>
    failedCheck(name, backend, error),
  );
  return {
    game_date: options.date,
    as_of: options.asOf ?? new Date(),
    status: 'fail',
    checks,
    queries: 0,
    unavailable: [backend],
  };
}

function failedCheck(name: CheckName, backend: BackendName | null, error: unknown): CheckResult {
  const message = errorMessage(error);
  const label = backend === 'documents' ? 'document store' : backend;
  return {
    name,
    status: 'fail',
    value: backend ? `${backend} unreachable` : 'error',
    threshold: '-',
    detail: backend
      ? `The check could not run: the ${label} is unreachable (${message}).`
      : `The check could not run: ${message}`,
    next: backend
      ? 'pipectl preflight'
      : 'pipectl health --verbose (and check the table names in pipectl config show)',
    measures: {},
  };
}

function overall(checks: CheckResult[]): HealthReport['status'] {
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  if (checks.some((c) => c.status === 'warn')) return 'warn';
  return 'pass';
}
