/**
 * What every command action receives: the global options, the resolved configuration, lazily
 * opened backends, the output, and the plan-confirm-apply-audit sequence that every mutating
 * command goes through. `action()` wraps a handler so that errors become exit codes in one
 * place and backends are always closed.
 */

import type { Command } from 'commander';

import { defaultActor, writeAudit } from '../lib/audit.js';
import type { Backends } from '../lib/backends/ports.js';
import { loadConfig, type ResolvedConfig } from '../lib/config.js';
import { parseGameDate, type GameDate } from '../lib/dates.js';
import {
  ExitCode,
  UserError,
  errorMessage,
  exitCodeOf,
  isPipectlError,
  type ExitCodeValue,
} from '../lib/errors.js';
import { confirm } from './confirm.js';
import { Output, type Cell } from './output.js';

export interface GlobalOptions {
  profile?: string;
  config?: string;
  sandbox?: string;
  json: boolean;
  yes: boolean;
  dryRun: boolean;
  reason?: string;
  color: boolean;
  verbose: boolean;
}

export interface Plan {
  /** One sentence: what will change, and where. */
  summary: string;
  columns: string[];
  rows: Cell[][];
}

export interface Mutation<T> {
  /** `orchestrator force-complete`: the audit record's command name. */
  command: string;
  args: Record<string, unknown>;
  gameDate?: GameDate;
  correlationId?: string;
  plan: Plan;
  /** Overrides of a guard (`--force`, emergency paths) must say why. */
  requireReason?: boolean;
  apply: () => Promise<T>;
  /** Counts or copies worth keeping in the audit record. */
  details?: (result: T) => Record<string, unknown>;
  /** A partial failure is audited as such. */
  outcome?: (result: T) => 'success' | 'partial' | 'failed';
}

export type MutationResult<T> = { applied: true; result: T } | { applied: false; dryRun: true };

export class CommandContext {
  readonly out: Output;
  readonly actor: string;
  exitCode: ExitCodeValue = ExitCode.ok;
  private resolved: ResolvedConfig | undefined;
  private opened: Promise<Backends> | undefined;

  readonly globals: GlobalOptions;

  constructor(globals: Partial<GlobalOptions>) {
    this.globals = {
      ...globals,
      json: globals.json === true,
      yes: globals.yes === true,
      dryRun: globals.dryRun === true,
      color: globals.color !== false,
      verbose: globals.verbose === true,
    };
    this.out = new Output(this.globals);
    this.actor = defaultActor();
  }

  get config(): ResolvedConfig {
    this.resolved ??= loadConfig({
      configPath: this.globals.config,
      profile: this.globals.profile,
      sandbox: this.globals.sandbox,
    });
    return this.resolved;
  }

  backends(): Promise<Backends> {
    this.opened ??= import('../lib/backends/index.js').then((m) => m.openBackends(this.config));
    return this.opened;
  }

  /** `--date` as a game date in the pipeline's zone; `today` when not given. */
  date(input: string | undefined): GameDate {
    return parseGameDate(input ?? 'today', { timezone: this.config.timezone });
  }

  /** Marks the run as failed without throwing: a check found a problem, output still printed. */
  fail(code: ExitCodeValue = ExitCode.failed): void {
    if (code > this.exitCode) this.exitCode = code;
  }

  /**
   * Shows the plan, stops there on --dry-run, asks for confirmation (or --yes), applies, and
   * writes the audit record whatever the outcome.
   */
  async mutate<T>(mutation: Mutation<T>): Promise<MutationResult<T>> {
    const { out, globals } = this;
    const reason = globals.reason?.trim() || null;
    if (mutation.requireReason && !reason) {
      throw new UserError(`${mutation.command} overrides a safety guard and needs --reason`, {
        hint: 'Say why in a few words, for example --reason "TeamDefense scraper down, INC-123".',
      });
    }

    const table = out.table(mutation.plan.columns, mutation.plan.rows);
    const planText = `${mutation.plan.summary}\n${table}`;
    if (globals.dryRun) {
      out.result(
        {
          dry_run: true,
          command: mutation.command,
          summary: mutation.plan.summary,
          plan: planRows(mutation.plan),
        },
        () => `${planText}\n${out.style.dim('Dry run: nothing was written.')}`,
      );
      return { applied: false, dryRun: true };
    }

    if (!out.json) out.log(planText);
    const typed = this.config.profile.typedConfirmation ? mutation.gameDate : undefined;
    await confirm({
      message: `Apply this on ${out.style.target(this.config.profileName)}?`,
      yes: globals.yes,
      ...(typed ? { typed } : {}),
    });

    const backends = await this.backends();
    const base = {
      command: mutation.command,
      args: mutation.args,
      profile: this.config.profileName,
      actor: this.actor,
      reason,
      correlation_id: mutation.correlationId ?? null,
      game_date: mutation.gameDate ?? null,
      dry_run: false,
    };
    let result: T;
    try {
      result = await mutation.apply();
    } catch (error) {
      await this.audit(backends, { ...base, outcome: 'failed', error: errorMessage(error) });
      throw error;
    }
    await this.audit(backends, {
      ...base,
      outcome: mutation.outcome?.(result) ?? 'success',
      ...(mutation.details ? { details: mutation.details(result) } : {}),
    });
    return { applied: true, result };
  }

  private async audit(backends: Backends, record: Parameters<typeof writeAudit>[2]): Promise<void> {
    try {
      await writeAudit(backends.documents, this.config.collections.opsAudit, record);
    } catch (error) {
      // The change itself happened; losing its audit record must be loud but not hide it.
      this.out.warn(`The audit record was not written: ${errorMessage(error)}`);
      this.fail(ExitCode.failed);
    }
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    const backends = await this.opened.catch(() => undefined);
    await backends?.close();
  }
}

function planRows(plan: Plan): Record<string, Cell>[] {
  return plan.rows.map((row) => Object.fromEntries(plan.columns.map((c, i) => [c, row[i]])));
}

export type Handler<O> = (ctx: CommandContext, options: O, args: string[]) => Promise<void>;

/**
 * Adapts a handler to commander. The handler prints through `ctx.out` and signals a failed
 * check with `ctx.fail()`; thrown errors become their exit code, a message and a hint.
 */
export function action<O>(handler: Handler<O>, exit: (code: ExitCodeValue) => void) {
  return async (...input: unknown[]): Promise<void> => {
    const command = input[input.length - 1] as Command;
    const options = command.opts() as O;
    const globals = command.optsWithGlobals() as Partial<GlobalOptions>;
    const args = input.slice(0, -2).flatMap((a) => (Array.isArray(a) ? a : [a])) as string[];
    const ctx = new CommandContext(globals);
    try {
      await handler(ctx, options, args);
      exit(ctx.exitCode);
    } catch (error) {
      reportError(ctx.out, error);
      exit(exitCodeOf(error));
    } finally {
      await ctx.close().catch(() => undefined);
    }
  };
}

export function reportError(out: Output, error: unknown): void {
  const known = isPipectlError(error);
  const message = known ? error.message : `Unexpected error: ${errorMessage(error)}`;
  const hint = known ? error.hint : 'Re-run with --verbose for details; this is a bug in pipectl.';
  if (out.json) {
    out.result(
      {
        error: {
          kind: known ? error.name : 'Error',
          message,
          hint: hint ?? null,
          exit_code: exitCodeOf(error),
        },
      },
      () => '',
    );
  }
  out.error(message, hint);
  if (out.verbose && error instanceof Error && error.stack) out.log(out.style.dim(error.stack));
}
