/**
 * `initScenario` writes one realistic game day through the ports, in a chosen failure mode:
 * processor output with row hashes, run history, the feature store and predictions in the
 * warehouse; orchestrator gates, coordinator batch state, completion markers and the lease in
 * documents; and every message the day would have sent in the topic log (consumed, except the
 * ones a scenario leaves pending). Times are relative to the backend's clock, so "the
 * coordinator stopped 40 minutes ago" is true whenever the sandbox is read right after init.
 * Values come from a seeded generator: the same seed writes the same rows.
 */

import { rmSync } from 'node:fs';

import { DateTime } from 'luxon';

import { isLocalBackends, type LocalBackends } from '../backends/local/index.js';
import { ENDPOINT_TOPIC } from '../backends/local/index.js';
import type { DocData, OutgoingMessage, Row } from '../backends/ports.js';
import { gatePath } from '../completion.js';
import { rowHash } from '../hashing.js';
import { processorsFor, type ResolvedConfig } from '../config.js';
import type { LibContext } from '../context.js';
import {
  batchPath,
  buildPredictionRequest,
  completedPath,
  leasePath,
} from '../coordinator/index.js';
import { addDays, type GameDate } from '../dates.js';
import { UserError } from '../errors.js';
import { idempotencyKey } from '../ids.js';
import type { GatedPhase, ProcessorDef } from '../pipeline.js';
import { buildPhaseTrigger, mergeEntities, type TriggeredPhase } from '../triggers.js';
import { NO_FAULTS, writeSandboxState, type Faults } from './faults.js';
import {
  entitiesOf,
  isFeatureStore,
  isTeamEntity,
  predictedPoints,
  predictionRow,
  processorOutput,
  runRow,
  sandboxId,
  TABLE_COLUMNS,
  type TableRows,
} from './output.js';
import { stream } from './random.js';
import { buildRoster, type Player } from './roster.js';
import { SCENARIOS, isScenarioName, type ScenarioName } from './scenarios.js';

export const COORDINATOR_NAME = 'PredictionCoordinator';
export const DEFAULT_PLAYERS = 450;
export const DEFAULT_SEED = 42;

export interface InitOptions {
  scenario: ScenarioName | string;
  gameDate: GameDate;
  players?: number;
  seed?: number;
  /** Earlier healthy game days to write before the scenario's day. */
  historyDays?: number;
}

export interface InitResult {
  scenario: ScenarioName;
  gameDate: GameDate;
  players: number;
  seed: number;
  historyDays: number;
  /** Rows written per table. */
  rows: Record<string, number>;
  documents: number;
  messages: { published: number; pending: number };
  correlationId: string;
  faults: Faults;
}

/** A sandbox file with any table, document or message in it; `init` refuses to overwrite it. */
export async function sandboxHasData(backends: LocalBackends): Promise<boolean> {
  const [row] = await backends.warehouse.query<{ n: number }>(
    `SELECT (SELECT COUNT(*) FROM _pipectl.documents) + (SELECT COUNT(*) FROM _pipectl.messages)
       + (SELECT COUNT(*) FROM information_schema.tables
          WHERE table_schema NOT IN ('_pipectl', 'main', 'information_schema', 'pg_catalog')) AS n`,
  );
  return Number(row?.n ?? 0) > 0;
}

/** Removes a sandbox file (and its write-ahead log); the next open starts empty. */
export function removeSandboxFile(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.wal`, { force: true });
}

export function checkInitOptions(options: InitOptions): Required<InitOptions> & {
  scenario: ScenarioName;
} {
  if (!isScenarioName(options.scenario)) {
    throw new UserError(`Unknown scenario "${options.scenario}"`, {
      hint: `Scenarios: ${Object.keys(SCENARIOS).join(', ')} (see: pipectl sandbox scenarios).`,
    });
  }
  const players = options.players ?? DEFAULT_PLAYERS;
  if (!Number.isInteger(players) || players < 30 || players > 5000) {
    throw new UserError(`--players ${players} is not valid`, {
      hint: 'Give a whole number from 30 (one per team) to 5000.',
    });
  }
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new UserError(`--seed ${seed} is not valid`, { hint: 'Give a whole number >= 0.' });
  }
  const historyDays = options.historyDays ?? 0;
  if (!Number.isInteger(historyDays) || historyDays < 0 || historyDays > 400) {
    throw new UserError(`--history-days ${historyDays} is not valid`, {
      hint: 'Give a whole number of days from 0 to 400.',
    });
  }
  return { scenario: options.scenario, gameDate: options.gameDate, players, seed, historyDays };
}

/**
 * Writes the scenario's game day (and `historyDays` healthy days before it) into an empty
 * local sandbox. The caller makes sure the file is empty (see `sandboxHasData`).
 */
export async function initScenario(ctx: LibContext, options: InitOptions): Promise<InitResult> {
  const checked = checkInitOptions(options);
  const { backends } = ctx;
  if (!isLocalBackends(backends)) {
    throw new UserError('The sandbox is written only on the local profile', {
      hint: 'Run with --profile local (the default); staging and prod are never rewritten.',
    });
  }

  return backends.database.hold(async () => {
    const roster = buildRoster(checked.seed, checked.players);
    const env: DayEnv = { ctx, backends, config: ctx.config, seed: checked.seed, roster };
    const rows: Record<string, number> = {};
    const count = (tables: Iterable<TableRows>) => {
      for (const t of tables) rows[t.table] = (rows[t.table] ?? 0) + t.rows.length;
    };
    await ensureTables(env);

    let documents = 0;
    const history = new HistoryWriter(env);
    for (let back = checked.historyDays; back >= 1; back--) {
      const date = addDays(checked.gameDate, -back);
      const day = new GameDay(env, date, historyAnchor(ctx.config, date), true);
      await day.healthyDay();
      count(day.tables.values());
      documents += day.docs.size;
      await history.add(day);
      ctx.log?.({
        level: 'progress',
        done: checked.historyDays - back + 1,
        total: checked.historyDays,
      });
    }
    await history.flush();

    const now = await backends.documents.serverTime();
    const day = new GameDay(env, checked.gameDate, now);
    const faults = await writeScenario(day, checked.scenario);
    count(day.tables.values());
    await day.flush();
    documents += day.docs.size;
    const messages = await day.settleMessages();

    await writeSandboxState(backends.documents, {
      scenario: checked.scenario,
      gameDate: checked.gameDate,
      seed: checked.seed,
      players: checked.players,
      faults,
    });

    return {
      ...checked,
      rows,
      documents: documents + 1,
      messages,
      correlationId: day.correlationId,
      faults,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The scenarios

/** Minutes from the start of a day's run at which each phase starts (its gate closes 1 minute earlier). */
const PHASE_START = { 2: 0, 3: 21, 4: 30, 5: 49 } as const;

async function writeScenario(day: GameDay, scenario: ScenarioName): Promise<Faults> {
  const config = day.env.config;
  switch (scenario) {
    case 'healthy':
      await day.healthyDay({ startAgoMinutes: 150 });
      return NO_FAULTS;

    case 'stuck-orchestrator': {
      const failing = pickProcessor(config, 3, 'TeamDefenseGameSummaryProcessor');
      const faults = { ...NO_FAULTS, failingProcessors: [failing] };
      day.start(150);
      const p3 = await day.phasesThrough(3, faults);
      day.gate(3, p3.reports, null);
      return faults;
    }

    case 'coordinator-crash': {
      day.start(99);
      const p4 = await day.phasesThrough(4, NO_FAULTS);
      const phase5 = await day.trigger(4, p4.reports, p4.end);
      const written = Math.round(day.env.roster.length * 0.845);
      await day.coordinator(phase5, {
        status: 'running',
        requested: written,
        written,
        updatedAgoMinutes: 40,
        lease: { acquiredAgoMinutes: 50, expiresAgoMinutes: 40 },
      });
      return NO_FAULTS;
    }

    case 'double-trigger': {
      day.start(150);
      const p3 = await day.phasesThrough(3, NO_FAULTS);
      // Two orchestrator instances read "4 of 5" together and both published the trigger.
      const first = await day.trigger(3, p3.reports, p3.end);
      const second = await day.publishTrigger(4, p3.reports, 'orchestrator');
      const runA = await day.runPhase(4, first, NO_FAULTS);
      const runB = await day.runPhase(
        4,
        { ...first, label: 'phase4-again', messageId: second, at: addSeconds(first.at, 1) },
        NO_FAULTS,
      );
      const end = new Date(Math.max(runA.end.getTime(), runB.end.getTime()));
      const phase5 = await day.trigger(4, runA.reports, end);
      await day.coordinator(phase5, { status: 'complete', requested: -1, written: -1 });
      return NO_FAULTS;
    }

    case 'stale-lock': {
      day.start(129);
      const p4 = await day.phasesThrough(4, NO_FAULTS);
      const phase5 = await day.trigger(4, p4.reports, p4.end);
      // The instance took the lease and died before it wrote the batch state.
      day.lease('coordinator-00017-vanished', addMinutes(phase5.at, 1), addMinutes(phase5.at, 11));
      return NO_FAULTS;
    }

    case 'zero-changes': {
      const faults = { ...NO_FAULTS, brokenHash: true };
      await day.healthyDay({ startAgoMinutes: 150, faults });
      return faults;
    }

    case 'nan-predictions': {
      const faults = { ...NO_FAULTS, nanShare: 0.12 };
      await day.healthyDay({ startAgoMinutes: 150, faults });
      return faults;
    }

    case 'null-features': {
      const faults = { ...NO_FAULTS, nullFeatureShare: 0.35 };
      await day.healthyDay({ startAgoMinutes: 150, faults });
      return faults;
    }

    case 'empty-output': {
      const empty = pickProcessor(config, 2, 'OddsApiPropsProcessor');
      const faults = { ...NO_FAULTS, emptyProcessors: [empty] };
      await day.healthyDay({ startAgoMinutes: 150, faults });
      return faults;
    }

    case 'orphaned-correlation': {
      await day.healthyDay({ startAgoMinutes: 150 });
      await day.orphanedReprocess(30);
      return NO_FAULTS;
    }

    case 'lost-trigger': {
      // The orchestrator committed "Phase 2 complete, triggered" and died before publishing:
      // the gate says triggered, no phase3-trigger message exists, and nothing downstream ran.
      day.start(100);
      const p2 = await day.phasesThrough(2, NO_FAULTS);
      day.gate(2, p2.reports, { at: addSeconds(p2.end, 2), messageId: null });
      return NO_FAULTS;
    }

    case 'backup-during-run': {
      day.start(55);
      const p4 = await day.phasesThrough(4, NO_FAULTS);
      const phase5 = await day.trigger(4, p4.reports, p4.end);
      const requested = day.env.roster.length;
      await day.coordinator(phase5, {
        status: 'running',
        requested,
        written: Math.round(requested * (2 / 3)),
        updatedAgoMinutes: 0.5,
        lease: { acquiredAgoMinutes: 6, expiresAgoMinutes: -4 },
      });
      await day.backupStart();
      return NO_FAULTS;
    }
  }
}

/** The named processor if the configuration has it, else a stand-in from the same phase. */
function pickProcessor(config: ResolvedConfig, phase: GatedPhase, preferred: string): string {
  const processors = processorsFor(config, phase);
  return (
    processors.find((p) => p.name === preferred) ?? processors[Math.min(2, processors.length - 1)]!
  ).name;
}

// ---------------------------------------------------------------------------------------------
// One game day

interface DayEnv {
  ctx: LibContext;
  backends: LocalBackends;
  config: ResolvedConfig;
  seed: number;
  roster: Player[];
}

interface Report {
  processor: string;
  correlationId: string;
  recordCount: number;
  entitiesChanged: string[];
  completedAt: Date;
  fullBatch: boolean;
}

interface PhaseRun {
  reports: Report[];
  failed: string[];
  end: Date;
}

/** A published trigger: the message a phase's processors answer, and when it went out. */
interface Triggered {
  /** Names the trigger in seeded values (message ids are random). */
  label: string;
  messageId: string;
  correlationId: string;
  at: Date;
}

interface CoordinatorPlan {
  status: 'running' | 'complete';
  /** Requests published (consumed if written, pending otherwise); -1 for every player. */
  requested: number;
  /** Predictions written; -1 for every player. */
  written: number;
  updatedAgoMinutes?: number;
  lease?: { acquiredAgoMinutes: number; expiresAgoMinutes: number };
}

class GameDay {
  readonly tables = new Map<string, TableRows>();
  readonly docs = new Map<string, DocData>();
  readonly correlationId: string;
  private readonly published: string[] = [];
  private readonly pending = new Set<string>();
  private startAt: Date;
  private readonly gameDate: GameDate;

  constructor(
    readonly env: DayEnv,
    gameDate: GameDate,
    /** The moment the day is seen from: the server's clock, or a past morning for history. */
    private readonly now: Date,
    /**
     * History days keep only what the warehouse and the gates need: no message log and no
     * per-player completion markers (170 days of those would dwarf the day that matters).
     */
    private readonly history = false,
  ) {
    this.gameDate = gameDate;
    this.correlationId = `sbx-${gameDate.replaceAll('-', '')}-${sandboxId(env.seed, gameDate, 'correlation')}`;
    this.startAt = addMinutes(now, -150);
  }

  start(agoMinutes: number): void {
    this.startAt = addMinutes(this.now, -agoMinutes);
  }

  at(minutes: number): Date {
    return addMinutes(this.startAt, minutes);
  }

  /** Every phase complete and every player predicted. */
  async healthyDay(options: { startAgoMinutes?: number; faults?: Faults } = {}): Promise<void> {
    if (options.startAgoMinutes !== undefined) this.start(options.startAgoMinutes);
    const faults = options.faults ?? NO_FAULTS;
    const p4 = await this.phasesThrough(4, faults);
    const phase5 = await this.trigger(4, p4.reports, p4.end);
    await this.coordinator(phase5, { status: 'complete', requested: -1, written: -1 }, faults);
  }

  /** Runs phases 2..last; every gate before `last` completes and triggers the next phase. */
  async phasesThrough(last: GatedPhase, faults: Faults): Promise<PhaseRun> {
    let trigger: Triggered = {
      label: 'phase2',
      messageId: '',
      correlationId: this.correlationId,
      at: this.at(0),
    };
    let run: PhaseRun | undefined;
    for (let phase = 2 as GatedPhase; phase <= last; phase = (phase + 1) as GatedPhase) {
      run = await this.runPhase(phase, trigger, faults);
      if (phase < last) trigger = await this.trigger(phase, run.reports, run.end);
    }
    return run!;
  }

  /** Every processor of a phase answers one trigger; Phase 4 runs level by level. */
  async runPhase(phase: GatedPhase, trigger: Triggered, faults: Faults): Promise<PhaseRun> {
    const processors = [...processorsFor(this.env.config, phase)].sort(
      (a, b) => (a.level ?? 1) - (b.level ?? 1),
    );
    const base = Math.max(trigger.at.getTime(), this.at(PHASE_START[phase]).getTime());
    const reports: Report[] = [];
    const failed: string[] = [];
    let end = new Date(base);
    for (const processor of processors) {
      const random = stream(this.env.seed, this.gameDate, processor.name, 'timing', trigger.label);
      const levelOffset = phase === 4 ? ((processor.level ?? 1) - 1) * 6 : 0;
      const spread = phase === 2 ? 15 : 2;
      const startedAt = new Date(base + (levelOffset + random.float(0, spread)) * 60_000);
      const processedAt = new Date(startedAt.getTime() + random.int(40, 240) * 1000);
      if (processedAt > end) end = processedAt;
      const report = await this.runProcessor(
        phase,
        processor,
        trigger,
        faults,
        startedAt,
        processedAt,
      );
      if (report) reports.push(report);
      else failed.push(processor.name);
    }
    return { reports, failed, end };
  }

  private async runProcessor(
    phase: GatedPhase,
    processor: ProcessorDef,
    trigger: Triggered,
    faults: Faults,
    startedAt: Date,
    processedAt: Date,
  ): Promise<Report | null> {
    const runId = `run-${sandboxId(this.env.seed, this.gameDate, processor.name, trigger.label)}`;
    const base = {
      processor: processor.name,
      phase,
      gameDate: this.gameDate,
      runId,
      correlationId: trigger.correlationId,
      startedAt,
      processedAt,
      triggerMessageId: trigger.messageId || undefined,
    };
    if (faults.failingProcessors.includes(processor.name)) {
      this.addRows(TABLE_COLUMNS.runHistory, this.env.config.tables.runHistory, [
        runRow({
          ...base,
          status: 'failed',
          records: 0,
          entitiesProcessed: 0,
          entitiesChanged: 0,
          fullBatch: true,
          error: failureMessage(processor),
        }),
      ]);
      return null;
    }

    // Limitation: history days keep run history, features and predictions but not the other
    // processors' output tables; 170 days of those (about 1.6 million more rows) would add
    // about a minute to the load, and no check reads them for past days.
    const written =
      this.history && !isFeatureStore(this.env.config, processor)
        ? null
        : processorOutput(this.env.config, processor, this.env.roster, {
            seed: this.env.seed,
            gameDate: this.gameDate,
            processedAt,
            brokenHash: faults.brokenHash,
            empty: faults.emptyProcessors.includes(processor.name),
            nullFeatureShare: faults.nullFeatureShare,
          });
    if (written) this.addRows(written.columns, written.table, written.rows);
    const output = written ?? {
      rows: entitiesOf(processor, this.env.roster).map((id) => ({ [processor.entityColumn]: id })),
    };
    // A new game date's first run changes every entity it writes, unless the hash is broken,
    // in which case every row hashes like yesterday's and nothing looks changed.
    const entitiesChanged = faults.brokenHash
      ? []
      : output.rows.map((r) => String(r[processor.entityColumn] ?? r.player_lookup));
    this.addRows(TABLE_COLUMNS.runHistory, this.env.config.tables.runHistory, [
      runRow({
        ...base,
        status: 'success',
        records: output.rows.length,
        entitiesProcessed: output.rows.length,
        entitiesChanged: entitiesChanged.length,
        fullBatch: true,
      }),
    ]);
    // History gates say "full batch" instead of listing every id, to keep 170 days small.
    const report: Report = {
      processor: processor.name,
      correlationId: trigger.correlationId,
      recordCount: output.rows.length,
      entitiesChanged: this.history ? [] : entitiesChanged,
      completedAt: processedAt,
      fullBatch: this.history,
    };
    await this.publishCompletion(phase, report, runId);
    return report;
  }

  /** Gate `phase` completes: its document is marked and phase N+1's trigger published. */
  async trigger(phase: GatedPhase, reports: Report[], end: Date): Promise<Triggered> {
    const at = addSeconds(end, 2);
    const messageId = await this.publishTrigger(
      (phase + 1) as TriggeredPhase,
      reports,
      'orchestrator',
    );
    this.gate(phase, reports, { at, messageId });
    return { label: `phase${phase + 1}`, messageId, correlationId: this.correlationId, at };
  }

  async publishTrigger(phase: TriggeredPhase, reports: Report[], source: string): Promise<string> {
    const merged = this.merged(reports);
    const trigger = buildPhaseTrigger(this.env.config, {
      phase,
      gameDate: this.gameDate,
      correlationId: this.correlationId,
      entities: merged.entities,
      fullBatch: merged.fullBatch,
      source,
    });
    const [id] = await this.publish(trigger.topic, [trigger.message]);
    return id!;
  }

  private merged(reports: Report[]): { entities: string[]; fullBatch: boolean } {
    const merged = mergeEntities(
      reports.map((r) => r.entitiesChanged),
      this.env.config.entityCap,
    );
    return merged.fullBatch || reports.some((r) => r.fullBatch)
      ? { entities: [], fullBatch: true }
      : merged;
  }

  /** The gate document as the orchestrator leaves it (see completion.ts for the fields). */
  gate(
    phase: GatedPhase,
    reports: Report[],
    triggered: { at: Date; messageId: string | null } | null,
  ): void {
    const doc: DocData = {
      _correlation_id: this.correlationId,
      _created_at: reports[0]?.completedAt ?? this.at(0),
      _triggered: triggered !== null,
      _trigger_message_id: triggered?.messageId ?? null,
    };
    for (const r of reports) {
      doc[r.processor] = {
        completed_at: r.completedAt,
        status: 'success',
        correlation_id: r.correlationId,
        record_count: r.recordCount,
        entities_changed: r.entitiesChanged,
        forced: false,
        forced_by: null,
        reason: null,
        full_batch: r.fullBatch,
      };
    }
    if (triggered) {
      const merged = this.merged(reports);
      const next = buildPhaseTrigger(this.env.config, {
        phase: (phase + 1) as TriggeredPhase,
        gameDate: this.gameDate,
        correlationId: this.correlationId,
        entities: merged.entities,
        fullBatch: merged.fullBatch,
        source: 'orchestrator',
      });
      Object.assign(doc, {
        _triggered_at: triggered.at,
        _trigger_published_at: triggered.messageId ? addSeconds(triggered.at, 1) : null,
        _trigger_topic: next.topic,
        _trigger_idempotency_key: next.idempotencyKey,
        _entities: merged.entities,
        _full_batch: merged.fullBatch,
      });
    }
    this.docs.set(gatePath(this.env.config, phase, this.gameDate), doc);
  }

  /** Phase 5: batch state, requests, predictions, completion markers, run history, lease. */
  async coordinator(
    trigger: Triggered,
    plan: CoordinatorPlan,
    faults: Faults = NO_FAULTS,
  ): Promise<void> {
    const { config, roster, seed } = this.env;
    const startedAt = addMinutes(trigger.at, 1);
    const requested = plan.requested < 0 ? roster.length : plan.requested;
    const written = plan.written < 0 ? roster.length : plan.written;
    const batchId = `batch-${this.gameDate}-${sandboxId(seed, this.gameDate, 'batch')}`;
    const instance = `coordinator-${sandboxId(seed, this.gameDate, 'instance').slice(0, 5)}`;
    const finishedAt = addSeconds(startedAt, 20 + Math.round(written * 0.9));
    const updatedAt =
      plan.updatedAgoMinutes === undefined
        ? finishedAt
        : addMinutes(this.now, -plan.updatedAgoMinutes);

    const nan = new Set(
      stream(seed, this.gameDate, 'nan')
        .shuffle(roster.map((p) => p.lookup))
        .slice(0, Math.round(roster.length * faults.nanShare)),
    );
    const players = roster.slice(0, written);
    const rows: Row[] = players.map((player, i) =>
      predictionRow(
        player,
        nan.has(player.lookup) ? NaN : predictedPoints(seed, this.gameDate, player),
        {
          gameDate: this.gameDate,
          batchId,
          correlationId: trigger.correlationId,
          createdAt: addSeconds(
            startedAt,
            10 +
              Math.round(
                (i * (updatedAt.getTime() - startedAt.getTime())) / 1000 / Math.max(written, 1),
              ),
          ),
        },
      ),
    );
    this.addRows(TABLE_COLUMNS.predictions, config.tables.predictions, rows);
    if (this.history) {
      this.addRows(
        TABLE_COLUMNS.predictions,
        config.tables.predictions,
        refreshRows(rows, batchId, finishedAt),
      );
    }

    this.docs.set(batchPath(config, this.gameDate), {
      batch_id: batchId,
      correlation_id: trigger.correlationId,
      status: plan.status,
      expected: roster.length,
      completed: written,
      started_at: startedAt,
      updated_at: updatedAt,
      instance,
    });
    for (const player of this.history ? [] : players) {
      this.docs.set(completedPath(config, this.gameDate, player.lookup), {
        batch_id: batchId,
        completed_at: updatedAt,
      });
    }
    this.addRows(TABLE_COLUMNS.runHistory, config.tables.runHistory, [
      runRow({
        processor: COORDINATOR_NAME,
        phase: 5,
        gameDate: this.gameDate,
        runId: `run-${sandboxId(seed, this.gameDate, COORDINATOR_NAME)}`,
        correlationId: trigger.correlationId,
        status: plan.status === 'complete' ? 'success' : 'running',
        startedAt,
        processedAt: plan.status === 'complete' ? finishedAt : null,
        records: written,
        entitiesProcessed: written,
        entitiesChanged: written,
        fullBatch: true,
        triggerMessageId: trigger.messageId,
      }),
    ]);
    if (plan.lease) {
      this.lease(
        instance,
        addMinutes(this.now, -plan.lease.acquiredAgoMinutes),
        addMinutes(this.now, -plan.lease.expiresAgoMinutes),
      );
    }

    const requests = roster.slice(0, requested).map((player) =>
      buildPredictionRequest(config, {
        gameDate: this.gameDate,
        player: player.lookup,
        correlationId: trigger.correlationId,
        batchId,
      }),
    );
    const ids = await this.publish(config.topics.predictionRequest, requests);
    ids.slice(written).forEach((id) => this.pending.add(id));
    await this.publish(
      config.topics.predictionComplete,
      players.map((player) => ({
        data: {
          game_date: this.gameDate,
          correlation_id: trigger.correlationId,
          player_lookup: player.lookup,
          batch_id: batchId,
        },
        attributes: {
          game_date: this.gameDate,
          correlation_id: trigger.correlationId,
          idempotency_key: idempotencyKey(
            trigger.correlationId,
            'prediction-complete',
            this.gameDate,
            player.lookup,
          ),
        },
      })),
    );
  }

  lease(holder: string, acquiredAt: Date, expiresAt: Date): void {
    this.docs.set(leasePath(this.env.config, this.gameDate, 'coordinator'), {
      holder,
      acquired_at: acquiredAt,
      expires_at: expiresAt,
      ttl_seconds: Math.round((expiresAt.getTime() - acquiredAt.getTime()) / 1000),
      host: 'sandbox-coordinator.internal',
      pid: null,
    });
  }

  /** The 06:00 backup scheduler's call to the coordinator's `/start`, not yet served. */
  async backupStart(): Promise<void> {
    const base = this.env.config.profile.endpoints.coordinator ?? SANDBOX_COORDINATOR_URL;
    const [id] = await this.publish(ENDPOINT_TOPIC, [
      {
        data: {
          url: `${base.replace(/\/$/, '')}/start`,
          body: { game_date: this.gameDate, source: 'backup-scheduler' },
        },
        attributes: { url: `${base.replace(/\/$/, '')}/start` },
      },
    ]);
    this.pending.add(id!);
  }

  /**
   * A Phase 3 re-run after the batch finished (a late stat correction), under its own
   * correlation id. The gate had already triggered, so the change never went further.
   */
  async orphanedReprocess(agoMinutes: number): Promise<void> {
    const { config, roster, seed } = this.env;
    const correlationId = `reprocess-${sandboxId(seed, this.gameDate, 'orphan')}`;
    const at = addMinutes(this.now, -agoMinutes);
    const trigger = buildPhaseTrigger(config, {
      phase: 3,
      gameDate: this.gameDate,
      correlationId,
      entities: [],
      fullBatch: false,
      source: 'reprocess',
    });
    const [messageId] = await this.publish(trigger.topic, [trigger.message]);
    const changed = stream(seed, this.gameDate, 'orphan-players')
      .shuffle(roster.map((p) => p.lookup))
      .slice(0, 37)
      .sort();
    const gate = this.docs.get(gatePath(config, 3, this.gameDate))!;
    for (const processor of processorsFor(config, 3).filter((p) => !isTeamEntity(p))) {
      const processedAt = addSeconds(at, 95);
      const table = this.tables.get(processor.table);
      for (const row of table?.rows ?? []) {
        if (changed.includes(String(row[processor.entityColumn]))) {
          row.stat_value = Number(row.stat_value) + 1.5;
          const { data_hash: _h, processed_at: _p, ...hashed } = row;
          row.data_hash = rowHash(hashed);
          row.processed_at = processedAt;
        }
      }
      const runId = `run-${sandboxId(seed, this.gameDate, processor.name, 'orphan')}`;
      this.addRows(TABLE_COLUMNS.runHistory, config.tables.runHistory, [
        runRow({
          processor: processor.name,
          phase: 3,
          gameDate: this.gameDate,
          runId,
          correlationId,
          status: 'success',
          startedAt: at,
          processedAt,
          records: entitiesOf(processor, roster).length,
          entitiesProcessed: changed.length,
          entitiesChanged: changed.length,
          fullBatch: false,
          triggerMessageId: messageId,
        }),
      ]);
      gate[processor.name] = {
        ...(gate[processor.name] as DocData),
        completed_at: processedAt,
        correlation_id: correlationId,
        entities_changed: changed,
      };
      await this.publishCompletion(
        3,
        {
          processor: processor.name,
          correlationId,
          recordCount: changed.length,
          entitiesChanged: changed,
          completedAt: processedAt,
          fullBatch: false,
        },
        runId,
      );
    }
  }

  private async publishCompletion(phase: GatedPhase, report: Report, runId: string): Promise<void> {
    await this.publish(this.env.config.topics[`phase${phase}Complete`], [
      completionMessage(phase, this.gameDate, report, runId),
    ]);
  }

  private addRows(columns: TableRows['columns'], table: string, rows: Row[]): void {
    const existing = this.tables.get(table);
    if (existing) existing.rows.push(...rows);
    else this.tables.set(table, { table, columns, rows: [...rows] });
  }

  private async publish(topic: string, messages: OutgoingMessage[]): Promise<string[]> {
    if (this.history) {
      return messages.map(
        (_, i) => `history-${sandboxId(this.env.seed, this.gameDate, topic, String(i))}`,
      );
    }
    if (messages.length === 0) return [];
    const outcomes = await this.env.backends.bus.publish(topic, messages);
    return outcomes.map((o) => {
      if (!o.ok) throw new Error(`Publishing to ${topic} failed: ${o.error}`);
      this.published.push(o.messageId);
      return o.messageId;
    });
  }

  /** Writes the day's rows and documents. */
  async flush(): Promise<void> {
    for (const t of this.tables.values()) {
      await this.env.backends.warehouse.insert(t.table, t.rows, t.columns);
    }
    await writeDocs(this.env, this.docs);
  }

  /** Marks every message the day's services already handled as consumed. */
  async settleMessages(): Promise<{ published: number; pending: number }> {
    const log = this.env.backends.messages;
    const byId = new Set(this.published);
    const byConsumer = new Map<string, number[]>();
    for (const message of await log.list({ pendingOnly: true })) {
      if (!byId.has(message.messageId) || this.pending.has(message.messageId)) continue;
      const consumer = consumerFor(this.env.config, message.topic);
      byConsumer.set(consumer, [...(byConsumer.get(consumer) ?? []), message.seq]);
    }
    for (const [consumer, seqs] of byConsumer) await log.consumeMany(seqs, consumer);
    return { published: this.published.length, pending: this.pending.size };
  }
}

export const SANDBOX_COORDINATOR_URL = 'http://coordinator.sandbox.invalid';

/** The report a processor publishes on `phase{N}-complete` for its orchestrator. */
export function completionMessage(
  phase: GatedPhase,
  gameDate: string,
  report: Pick<Report, 'processor' | 'correlationId' | 'recordCount' | 'entitiesChanged'> & {
    fullBatch?: boolean;
  },
  runId: string,
  status: 'success' | 'failed' = 'success',
): OutgoingMessage {
  return {
    data: {
      game_date: gameDate,
      correlation_id: report.correlationId,
      phase,
      processor_name: report.processor,
      status,
      record_count: report.recordCount,
      entities_changed: report.entitiesChanged,
      is_full_batch: report.fullBatch === true,
      run_id: runId,
    },
    attributes: {
      game_date: gameDate,
      correlation_id: report.correlationId,
      idempotency_key: idempotencyKey(
        report.correlationId,
        `phase${phase}-complete`,
        gameDate,
        report.processor,
      ),
    },
  };
}

/** Which simulated service consumes a topic; the log shows it as `consumed_by`. */
export function consumerFor(config: ResolvedConfig, topic: string): string {
  const t = config.topics;
  if ([t.phase2Complete, t.phase3Complete, t.phase4Complete].includes(topic))
    return 'sandbox-orchestrator';
  if ([t.phase3Trigger, t.phase4Trigger].includes(topic)) return 'sandbox-processors';
  if (topic === t.phase5Trigger || topic === ENDPOINT_TOPIC || topic === t.predictionComplete)
    return 'sandbox-coordinator';
  if (topic === t.predictionRequest) return 'sandbox-worker';
  return 'sandbox';
}

function failureMessage(processor: ProcessorDef): string {
  return `Timeout after 540s waiting for upstream rows in ${processor.table.split('.')[0]}; 3 retries exhausted`;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Creates every table the sandbox writes (each processor's output, run history, ...). */
export async function ensureTables(env: Pick<DayEnv, 'config' | 'backends'>): Promise<void> {
  const { config, backends } = env;
  const seen = new Set<string>();
  const ensure = async (t: Pick<TableRows, 'table' | 'columns'>) => {
    if (seen.has(t.table)) return;
    seen.add(t.table);
    await backends.warehouse.ensureTable(t.table, t.columns);
  };
  await ensure({ table: config.tables.runHistory, columns: TABLE_COLUMNS.runHistory });
  await ensure({ table: config.tables.predictions, columns: TABLE_COLUMNS.predictions });
  await ensure({ table: config.tables.featureStore, columns: TABLE_COLUMNS.featureStore });
  for (const phase of [2, 3, 4] as const) {
    for (const processor of processorsFor(config, phase)) {
      await ensure(
        processorOutput(config, processor, [], {
          seed: 0,
          gameDate: '2000-01-01',
          processedAt: new Date(0),
          empty: true,
        }),
      );
    }
  }
}

/** All documents in one transaction: one commit instead of one per document. */
async function writeDocs(env: DayEnv, docs: Map<string, DocData>): Promise<void> {
  const entries = [...docs.entries()];
  for (let i = 0; i < entries.length; i += 2000) {
    const chunk = entries.slice(i, i + 2000);
    await env.backends.documents.transaction(async (tx) => {
      for (const [path, data] of chunk) tx.set(path, data);
    });
  }
}

/** Collects many history days and writes them in large inserts (the appender path). */
class HistoryWriter {
  private readonly tables = new Map<string, TableRows>();
  private readonly docs = new Map<string, DocData>();
  private rows = 0;

  constructor(private readonly env: DayEnv) {}

  async add(day: GameDay): Promise<void> {
    for (const t of day.tables.values()) {
      const existing = this.tables.get(t.table);
      if (existing) for (const row of t.rows) existing.rows.push(row);
      else this.tables.set(t.table, { ...t, rows: [...t.rows] });
      this.rows += t.rows.length;
    }
    for (const [path, data] of day.docs) this.docs.set(path, data);
    if (this.rows >= 250_000) await this.flush();
  }

  async flush(): Promise<void> {
    for (const t of this.tables.values()) {
      await this.env.backends.warehouse.insert(t.table, t.rows, t.columns);
    }
    await writeDocs(this.env, this.docs);
    this.tables.clear();
    this.docs.clear();
    this.rows = 0;
  }
}

/**
 * Past game days carry the prediction refreshes a real day accumulates as betting lines move:
 * the morning batch and then a re-prediction every 40 minutes, each its own batch. A season
 * then holds about a million prediction rows, so queries over the sandbox see a realistic
 * table size while each day still has one row per player per batch.
 */
const HISTORY_REFRESHES = 11;

function refreshRows(morning: Row[], batchId: string, finishedAt: Date): Row[] {
  const rows: Row[] = [];
  for (let refresh = 1; refresh <= HISTORY_REFRESHES; refresh++) {
    const createdAt = addMinutes(finishedAt, 40 * refresh);
    // Lines move a little; so do the predictions (deterministically, a quarter point at most).
    const shift = ((refresh % 5) - 2) * 0.125;
    for (const row of morning) {
      rows.push({
        ...row,
        predicted_points: (row.predicted_points as number) + shift,
        batch_id: `${batchId}-r${refresh}`,
        created_at: createdAt,
      });
    }
  }
  return rows;
}

/** History days are seen from 09:00 on their own morning, when the pipeline had finished. */
function historyAnchor(config: ResolvedConfig, gameDate: GameDate): Date {
  return DateTime.fromISO(gameDate, { zone: config.sla.timezone }).set({ hour: 9 }).toJSDate();
}

function addMinutes(date: Date, minutes: number): Date {
  return new Date(date.getTime() + minutes * 60_000);
}

function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}
