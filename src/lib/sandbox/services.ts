/**
 * The simulated phase services. `drain` consumes pending messages from the sandbox's topic log,
 * oldest first, and answers each the way the real service would, through the same library the
 * pipeline uses: processors write output (with `rowHash`) and run history and publish their
 * report; the orchestrators record reports with `recordReport`, which decides whether to
 * trigger the next phase; the coordinator takes the lease and starts a batch through the
 * execution guard (`startBatch`) and fans out `prediction-request`s; workers write one
 * prediction each and count it with `recordPrediction`. Faults stored by `init` keep happening,
 * so a drill shows whether pipectl's repair really gets the pipeline past them.
 */

import {
  ENDPOINT_TOPIC,
  isLocalBackends,
  type LocalBackends,
  type LoggedMessage,
} from '../backends/local/index.js';
import { param, type Row } from '../backends/ports.js';
import { recordReport } from '../completion.js';
import { processorsFor, type ResolvedConfig } from '../config.js';
import type { LibContext } from '../context.js';
import {
  acquireLease,
  buildPredictionRequest,
  readBatch,
  recordPrediction,
  releaseLease,
  startBatch,
} from '../coordinator/index.js';
import { isGameDate, type GameDate } from '../dates.js';
import { errorMessage, UserError } from '../errors.js';
import { correlationId as newCorrelationId, idempotencyKey } from '../ids.js';
import type { GatedPhase, ProcessorDef } from '../pipeline.js';
import { readSandboxState, type SandboxState } from './faults.js';
import { COORDINATOR_NAME, completionMessage, consumerFor, ensureTables } from './init.js';
import {
  predictedPoints,
  predictionRow,
  processorOutput,
  runRow,
  TABLE_COLUMNS,
} from './output.js';
import { stream } from './random.js';
import { buildRoster, type Player } from './roster.js';

export interface DrainStep {
  service: 'processors' | 'orchestrator' | 'coordinator' | 'worker' | 'ignored';
  topic: string;
  game_date: string | null;
  messages: number;
  detail: string;
}

export interface DrainSummary {
  handled: number;
  /** Messages still pending when drain stopped. */
  pending: number;
  /** --max was reached before the log was empty. */
  exhausted: boolean;
  steps: DrainStep[];
  /** Game dates the drained messages were about. */
  gameDates: string[];
  runs: { success: number; failed: number };
  triggers: string[];
  batches_started: string[];
  starts_skipped: string[];
  predictions_written: number;
}

/** How many consecutive requests a worker handles per round trip. */
const WORKER_CHUNK = 500;

export async function drain(ctx: LibContext, options: { max: number }): Promise<DrainSummary> {
  const { backends } = ctx;
  if (!isLocalBackends(backends)) {
    throw new UserError('The simulated services run only on the local profile');
  }
  return backends.database.hold(async () => {
    // A drill may start from an empty file (a trigger published by hand): give it the tables.
    await ensureTables({ config: ctx.config, backends });
    const services = new Services(ctx, backends, await readSandboxState(backends.documents));
    const summary: DrainSummary = {
      handled: 0,
      pending: 0,
      exhausted: false,
      steps: [],
      gameDates: [],
      runs: { success: 0, failed: 0 },
      triggers: [],
      batches_started: [],
      starts_skipped: [],
      predictions_written: 0,
    };
    services.summary = summary;

    for (;;) {
      const budget = options.max - summary.handled;
      const pending = await backends.messages.list({ pendingOnly: true, limit: 1000 });
      if (pending.length === 0) break;
      if (budget <= 0) {
        summary.exhausted = true;
        break;
      }
      const group = leadingGroup(pending, Math.min(budget, WORKER_CHUNK));
      summary.handled += await services.handle(group);
    }
    summary.pending = (await backends.messages.list({ pendingOnly: true })).length;
    summary.gameDates = [...new Set(summary.gameDates)].sort();
    return summary;
  });
}

/** The first message, plus the ones right after it on the same topic (handled together). */
function leadingGroup(pending: LoggedMessage[], max: number): LoggedMessage[] {
  const first = pending[0]!;
  const group = [first];
  for (const message of pending.slice(1)) {
    if (group.length >= max || message.topic !== first.topic) break;
    group.push(message);
  }
  return group;
}

class Services {
  summary!: DrainSummary;
  private readonly config: ResolvedConfig;
  private readonly roster: Player[];
  private readonly players: Map<string, Player>;
  private instances = 0;

  constructor(
    private readonly ctx: LibContext,
    private readonly backends: LocalBackends,
    private readonly state: SandboxState,
  ) {
    this.config = ctx.config;
    this.roster = buildRoster(state.seed, state.players);
    this.players = new Map(this.roster.map((p) => [p.lookup, p]));
  }

  /** Consumes and answers a group of messages on one topic; returns how many it took. */
  async handle(group: LoggedMessage[]): Promise<number> {
    const topic = group[0]!.topic;
    const taken = new Set(
      await this.backends.messages.consumeMany(
        group.map((m) => m.seq),
        consumerFor(this.config, topic),
      ),
    );
    const mine = group.filter((m) => taken.has(m.seq));
    if (mine.length === 0) return group.length;

    const t = this.config.topics;
    const phaseOf: Record<string, GatedPhase> = {
      [t.phase2Complete]: 2,
      [t.phase3Complete]: 3,
      [t.phase4Complete]: 4,
    };
    if (topic === t.predictionRequest) await this.worker(mine);
    else if (topic === t.predictionComplete) await this.completions(mine);
    else if (phaseOf[topic] !== undefined) await this.orchestrator(phaseOf[topic], mine);
    else
      for (const message of mine) {
        if (topic === t.phase3Trigger) await this.processors(3, message, 'trigger');
        else if (topic === t.phase4Trigger) await this.processors(4, message, 'trigger');
        else if (topic === t.phase5Trigger) await this.coordinator(message, 'phase5-trigger');
        else if (topic === ENDPOINT_TOPIC) await this.endpoint(message);
        else this.step('ignored', message, 1, 'no simulated service listens on this topic');
      }
    return group.length;
  }

  // -------------------------------------------------------------------------------------------
  // Processors

  private async processors(
    phase: GatedPhase,
    message: LoggedMessage,
    via: string,
    only?: (p: ProcessorDef) => boolean,
  ): Promise<void> {
    const gameDate = this.dateOf(message);
    if (!gameDate) return;
    const correlation = stringField(message.data.correlation_id) ?? newCorrelationId();
    const processors = [...processorsFor(this.config, phase)]
      .filter((p) => only?.(p) ?? true)
      .sort((a, b) => (a.level ?? 1) - (b.level ?? 1));

    const failed: string[] = [];
    let changed = 0;
    for (const processor of processors) {
      const outcome = await this.runProcessor(phase, processor, gameDate, correlation, message);
      if (outcome === null) failed.push(processor.name);
      else changed += outcome;
    }
    const ok = processors.length - failed.length;
    this.summary.runs.success += ok;
    this.summary.runs.failed += failed.length;
    this.step(
      'processors',
      message,
      1,
      `phase ${phase} for ${gameDate} (${via}): ${ok} succeeded` +
        (failed.length ? `, ${failed.length} failed (${failed.join(', ')})` : '') +
        `, ${changed} entities changed`,
    );
  }

  /** One run: output rows (replacing the date's), a run history row, a report. Null if it failed. */
  private async runProcessor(
    phase: GatedPhase,
    processor: ProcessorDef,
    gameDate: GameDate,
    correlation: string,
    trigger: LoggedMessage,
  ): Promise<number | null> {
    const { warehouse, documents, bus } = this.backends;
    const { faults, seed } = this.state;
    const startedAt = await documents.serverTime();
    const runId = `run-${trigger.messageId.slice(0, 8)}-${processor.name}`;
    const base = {
      processor: processor.name,
      phase,
      gameDate,
      runId,
      correlationId: correlation,
      startedAt,
      triggerMessageId: trigger.messageId,
    };

    if (faults.failingProcessors.includes(processor.name)) {
      await warehouse.insert(
        this.config.tables.runHistory,
        [
          runRow({
            ...base,
            status: 'failed',
            processedAt: startedAt,
            records: 0,
            entitiesProcessed: 0,
            entitiesChanged: 0,
            fullBatch: true,
            error: `Timeout after 540s waiting for upstream rows in ${processor.table.split('.')[0]}; 3 retries exhausted`,
          }),
        ],
        TABLE_COLUMNS.runHistory,
      );
      return null;
    }

    const output = processorOutput(this.config, processor, this.roster, {
      seed,
      gameDate,
      processedAt: startedAt,
      brokenHash: faults.brokenHash,
      empty: faults.emptyProcessors.includes(processor.name),
      nullFeatureShare: faults.nullFeatureShare,
    });
    const stored = await this.storedHashes(processor, gameDate);
    const entity = (row: Row) => String(row[processor.entityColumn]);
    const changed = output.rows.filter((row) => stored.get(entity(row)) !== row.data_hash);

    // Processors MERGE on (date, entity); replacing the date's rows has the same effect here.
    await warehouse.query(`DELETE FROM \`${processor.table}\` WHERE game_date = @date`, {
      date: param.date(gameDate),
    });
    await warehouse.insert(output.table, output.rows, output.columns);
    const processedAt = await documents.serverTime();
    await warehouse.insert(
      this.config.tables.runHistory,
      [
        runRow({
          ...base,
          status: 'success',
          processedAt,
          records: output.rows.length,
          entitiesProcessed: output.rows.length,
          entitiesChanged: changed.length,
          fullBatch: true,
        }),
      ],
      TABLE_COLUMNS.runHistory,
    );

    const report = {
      processor: processor.name,
      correlationId: correlation,
      recordCount: output.rows.length,
      entitiesChanged: changed.map(entity),
    };
    await bus.publish(this.config.topics[`phase${phase}Complete`], [
      completionMessage(phase, gameDate, report, runId),
    ]);
    return changed.length;
  }

  /** The hash each entity has now for the date; identifiers come from validated config. */
  private async storedHashes(
    processor: ProcessorDef,
    gameDate: GameDate,
  ): Promise<Map<string, string>> {
    const rows = await this.backends.warehouse.query<{ entity: string; data_hash: string }>(
      `SELECT \`${processor.entityColumn}\` AS entity, data_hash FROM \`${processor.table}\`
       WHERE game_date = @date`,
      { date: param.date(gameDate) },
    );
    return new Map(rows.map((r) => [r.entity, r.data_hash]));
  }

  // -------------------------------------------------------------------------------------------
  // Orchestrators

  private async orchestrator(phase: GatedPhase, messages: LoggedMessage[]): Promise<void> {
    const byDate = new Map<GameDate, string[]>();
    for (const message of messages) {
      const gameDate = this.dateOf(message);
      const processor = stringField(message.data.processor_name);
      if (!gameDate || !processor) continue;
      const entities = Array.isArray(message.data.entities_changed)
        ? message.data.entities_changed.filter((e): e is string => typeof e === 'string')
        : [];
      try {
        const outcome = await recordReport(this.ctx, phase, gameDate, {
          processor,
          status: message.data.status === 'failed' ? 'failed' : 'success',
          correlationId: stringField(message.data.correlation_id) ?? 'unknown',
          recordCount: Number(message.data.record_count ?? 0),
          entitiesChanged: entities,
          fullBatch: message.data.is_full_batch === true,
        });
        const notes = byDate.get(gameDate) ?? [];
        notes.push(
          outcome.duplicate
            ? `${processor} (duplicate)`
            : `${processor} ${outcome.reported}/${outcome.expected}`,
        );
        if (outcome.triggered) {
          this.summary.triggers.push(
            `${outcome.trigger?.topic ?? `phase${phase + 1}`} ${gameDate}`,
          );
          notes.push(`→ ${outcome.trigger?.topic ?? 'next phase'} published`);
        }
        byDate.set(gameDate, notes);
      } catch (error) {
        // A report the gate refuses (an unknown processor) is dropped, as the real function does.
        byDate.set(gameDate, [
          ...(byDate.get(gameDate) ?? []),
          `${processor} refused: ${errorMessage(error)}`,
        ]);
      }
    }
    for (const [gameDate, notes] of byDate) {
      const last = notes.filter((n) => !n.startsWith('→')).at(-1) ?? '';
      const triggered = notes.find((n) => n.startsWith('→'));
      this.step(
        'orchestrator',
        messages[0]!,
        messages.length,
        `phase ${phase} gate ${gameDate}: ${notes.filter((n) => !n.startsWith('→')).length} report(s), ` +
          `now ${last.split(' ').at(-1)}${triggered ? ` ${triggered}` : ''}`,
        gameDate,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Coordinator

  private async endpoint(message: LoggedMessage): Promise<void> {
    const url = stringField(message.data.url) ?? '';
    const body = (message.data.body ?? {}) as Record<string, unknown>;
    const request: LoggedMessage = { ...message, data: { ...body } };
    const path = new URL(url, 'http://sandbox.invalid').pathname;
    if (path.endsWith('/emergency-start'))
      return this.coordinator(request, 'POST /emergency-start');
    if (path.endsWith('/start')) return this.coordinator(request, 'POST /start');
    if (path.endsWith('/trigger-direct'))
      return this.processors(4, request, 'POST /trigger-direct');
    if (path.endsWith('/reprocess')) return this.processors(3, request, 'POST /reprocess');
    if (path.endsWith('/run-direct')) {
      return this.processors(
        4,
        request,
        'POST /run-direct',
        (p) => p.table === this.config.tables.featureStore,
      );
    }
    this.step('ignored', message, 1, `no simulated service answers ${url}`);
  }

  /** `/start`: lease, execution guard, fan-out. A running batch or a live lease skips it. */
  private async coordinator(message: LoggedMessage, via: string): Promise<void> {
    const gameDate = this.dateOf(message);
    if (!gameDate) return;
    this.instances += 1;
    const instance = `sandbox-coordinator-${message.seq}-${this.instances}`;
    const correlation =
      stringField(message.data.correlation_id) ??
      (await readBatch(this.ctx, gameDate)).correlationId ??
      newCorrelationId();

    const lease = await acquireLease(this.ctx, gameDate, instance);
    if (!lease.acquired) {
      this.summary.starts_skipped.push(gameDate);
      this.step(
        'coordinator',
        message,
        1,
        `${via} for ${gameDate} skipped: the lease is held by ${lease.lease.holder} until ${lease.lease.expiresAt.toISOString()}`,
        gameDate,
      );
      return;
    }
    const decision = await startBatch(this.ctx, gameDate, {
      players: this.roster.map((p) => p.lookup),
      correlationId: correlation,
      instance,
    });
    if (!decision.started) {
      await releaseLease(this.ctx, gameDate, instance);
      this.summary.starts_skipped.push(gameDate);
      this.step(
        'coordinator',
        message,
        1,
        `${via} for ${gameDate} skipped: ${decision.reason}`,
        gameDate,
      );
      return;
    }

    const requests = this.roster.map((player) =>
      buildPredictionRequest(this.config, {
        gameDate,
        player: player.lookup,
        correlationId: correlation,
        batchId: decision.batchId,
      }),
    );
    const size = this.config.coordinator.publishBatchSize;
    let failed = 0;
    for (let i = 0; i < requests.length; i += size) {
      const outcomes = await this.backends.bus.publish(
        this.config.topics.predictionRequest,
        requests.slice(i, i + size),
      );
      failed += outcomes.filter((o) => !o.ok).length;
    }
    this.summary.batches_started.push(decision.batchId);
    this.step(
      'coordinator',
      message,
      1,
      `${via} for ${gameDate}: batch ${decision.batchId} started, ${requests.length - failed} prediction requests published` +
        (failed ? `, ${failed} failed` : ''),
      gameDate,
    );
  }

  /** The coordinator's view of completions: when a batch is done, record the run, free the lease. */
  private async completions(messages: LoggedMessage[]): Promise<void> {
    const dates = new Set(
      messages.map((m) => this.dateOf(m)).filter((d): d is GameDate => d !== null),
    );
    for (const gameDate of dates) {
      const batch = await readBatch(this.ctx, gameDate);
      const done = batch.status === 'complete';
      if (done && batch.batchId) await this.finishBatch(gameDate, batch);
      this.step(
        'coordinator',
        messages[0]!,
        messages.filter((m) => m.data.game_date === gameDate).length,
        `${gameDate}: ${batch.completed}/${batch.expected} predicted` +
          (done ? ', batch complete, lease released' : ''),
        gameDate,
      );
    }
  }

  private async finishBatch(
    gameDate: GameDate,
    batch: Awaited<ReturnType<typeof readBatch>>,
  ): Promise<void> {
    const { warehouse, documents } = this.backends;
    const runId = `run-${batch.batchId}`;
    const [existing] = await warehouse.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM \`${this.config.tables.runHistory}\` WHERE run_id = @runId AND status = 'success'`,
      { runId },
    );
    if (Number(existing?.n ?? 0) === 0) {
      await warehouse.insert(
        this.config.tables.runHistory,
        [
          runRow({
            processor: COORDINATOR_NAME,
            phase: 5,
            gameDate,
            runId,
            correlationId: batch.correlationId ?? 'unknown',
            status: 'success',
            startedAt: batch.startedAt ?? new Date(),
            processedAt: await documents.serverTime(),
            records: batch.completed,
            entitiesProcessed: batch.completed,
            entitiesChanged: batch.completed,
            fullBatch: true,
          }),
        ],
        TABLE_COLUMNS.runHistory,
      );
    }
    if (batch.instance) await releaseLease(this.ctx, gameDate, batch.instance);
  }

  // -------------------------------------------------------------------------------------------
  // Workers

  private async worker(messages: LoggedMessage[]): Promise<void> {
    const { warehouse, documents, bus } = this.backends;
    const requests = messages
      .map((m) => ({
        message: m,
        gameDate: this.dateOf(m),
        player: stringField(m.data.player_lookup),
        batchId: stringField(m.data.batch_id) ?? 'unknown',
        correlationId: stringField(m.data.correlation_id) ?? 'unknown',
      }))
      .filter(
        (r): r is typeof r & { gameDate: GameDate; player: string } =>
          r.gameDate !== null && r.player !== null,
      );

    const byDate = new Map<GameDate, typeof requests>();
    for (const r of requests) byDate.set(r.gameDate, [...(byDate.get(r.gameDate) ?? []), r]);
    for (const [gameDate, list] of byDate) {
      const nan = this.nanPlayers(gameDate);
      const createdAt = await documents.serverTime();
      const rows = list.map((r) => {
        const player = this.players.get(r.player) ?? {
          lookup: r.player,
          name: r.player,
          team: '',
          scoring: 10,
        };
        const value = nan.has(r.player) ? NaN : predictedPoints(this.state.seed, gameDate, player);
        return predictionRow(player, value, {
          gameDate,
          batchId: r.batchId,
          correlationId: r.correlationId,
          createdAt,
        });
      });
      // A redelivered request replaces the player's prediction rather than adding a second one.
      await warehouse.query(
        `DELETE FROM \`${this.config.tables.predictions}\`
         WHERE game_date = @date AND player_lookup IN UNNEST(@players)`,
        { date: param.date(gameDate), players: param.strings(list.map((r) => r.player)) },
      );
      await warehouse.insert(this.config.tables.predictions, rows, TABLE_COLUMNS.predictions);
      for (const r of list) await recordPrediction(this.ctx, gameDate, r.player);
      await bus.publish(
        this.config.topics.predictionComplete,
        list.map((r) => ({
          data: {
            game_date: gameDate,
            correlation_id: r.correlationId,
            player_lookup: r.player,
            batch_id: r.batchId,
          },
          attributes: {
            game_date: gameDate,
            correlation_id: r.correlationId,
            idempotency_key: idempotencyKey(
              r.correlationId,
              'prediction-complete',
              gameDate,
              r.player,
            ),
          },
        })),
      );
      this.summary.predictions_written += rows.length;
      this.step(
        'worker',
        list[0]!.message,
        list.length,
        `${gameDate}: ${rows.length} predictions written`,
        gameDate,
      );
    }
  }

  /** The same players init made NaN, so a re-prediction keeps the fault. */
  private nanPlayers(gameDate: GameDate): Set<string> {
    const share = this.state.faults.nanShare;
    if (share <= 0) return new Set();
    return new Set(
      stream(this.state.seed, gameDate, 'nan')
        .shuffle(this.roster.map((p) => p.lookup))
        .slice(0, Math.round(this.roster.length * share)),
    );
  }

  // -------------------------------------------------------------------------------------------

  private dateOf(message: LoggedMessage): GameDate | null {
    const value = stringField(message.data.game_date) ?? stringField(message.attributes.game_date);
    if (value && isGameDate(value)) return value;
    this.step('ignored', message, 1, 'the message has no valid game_date');
    return null;
  }

  private step(
    service: DrainStep['service'],
    message: LoggedMessage,
    messages: number,
    detail: string,
    gameDate: string | null = stringField(message.data.game_date),
  ): void {
    this.summary.steps.push({
      service,
      topic: message.topic,
      game_date: gameDate,
      messages,
      detail,
    });
    if (gameDate) this.summary.gameDates.push(gameDate);
    this.ctx.log?.({ level: 'info', message: `${service}: ${detail}` });
  }
}

function stringField(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}
