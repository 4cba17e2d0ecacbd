/**
 * The recovery runbooks as data: for each failure mode, the pipectl commands an on-call
 * engineer runs, in order. `pipectl runbook run` executes them one by one; the pages in
 * docs/runbooks explain each step. Keeping the steps as real commands means a runbook can
 * never drift from what the CLI does, and every step an operator sees can be typed by hand.
 */

export interface RunbookParams {
  date: string;
  phase: number;
}

export interface RunbookStep {
  title: string;
  args: (p: RunbookParams) => string[];
  /** Writes something: confirmed, passed --yes and --reason. */
  mutates: boolean;
  /** Only on the local profile (the simulated services). */
  sandboxOnly?: boolean;
}

export interface Runbook {
  name: string;
  title: string;
  /** What the on-call engineer sees that points here. */
  symptom: string;
  doc: string;
  /** The phase a `--phase` option defaults to, for runbooks about one gate. */
  defaultPhase?: number;
  steps: RunbookStep[];
}

const status: RunbookStep = {
  title: 'See the whole pipeline for the date',
  args: (p) => ['status', '--date', p.date],
  mutates: false,
};

const drain: RunbookStep = {
  title: 'Let the simulated services react (sandbox only)',
  args: () => ['sandbox', 'drain'],
  mutates: false,
  sandboxOnly: true,
};

export const RUNBOOKS: Runbook[] = [
  {
    name: 'stuck-orchestrator',
    title: 'A processor never reported; the next phase never started',
    symptom: '`orchestrator stuck` exits 1; a gate shows 4 of 5 for hours',
    doc: 'docs/runbooks/stuck-orchestrator.md',
    defaultPhase: 3,
    steps: [
      status,
      {
        title: 'Show the gate, who is missing, and what run history says about them',
        args: (p) => ['orchestrator', 'show', '--phase', String(p.phase), '--date', p.date],
        mutates: false,
      },
      {
        title: 'Record the missing reports as forced; the gate triggers the next phase once',
        args: (p) => [
          'orchestrator',
          'force-complete',
          '--phase',
          String(p.phase),
          '--date',
          p.date,
          '--missing',
        ],
        mutates: true,
      },
      drain,
      status,
    ],
  },
  {
    name: 'lost-trigger',
    title: 'A gate is marked triggered but its message was never published',
    symptom: '`orchestrator show` says triggered with no message id',
    doc: 'docs/runbooks/lost-trigger.md',
    defaultPhase: 2,
    steps: [
      {
        title: 'Show the gate and its trigger state',
        args: (p) => ['orchestrator', 'show', '--phase', String(p.phase), '--date', p.date],
        mutates: false,
      },
      {
        title: 'Publish the marked trigger with its original idempotency key',
        args: (p) => ['orchestrator', 'retrigger', '--phase', String(p.phase), '--date', p.date],
        mutates: true,
      },
      drain,
      status,
    ],
  },
  {
    name: 'coordinator-crash',
    title: 'The coordinator restarted mid-batch and lost track of the players',
    symptom: 'batch `running`, stale, with fewer predictions than expected',
    doc: 'docs/runbooks/coordinator-crash.md',
    steps: [
      {
        title: 'Show the batch, the lease and the predictions written',
        args: (p) => ['coordinator', 'show', '--date', p.date],
        mutates: false,
      },
      {
        title: 'Work out who is missing with one warehouse query',
        args: (p) => ['coordinator', 'reconstruct', '--date', p.date],
        mutates: false,
      },
      {
        title: 'Request predictions for exactly the missing players',
        args: (p) => ['coordinator', 'republish', '--date', p.date],
        mutates: true,
      },
      drain,
      {
        title: 'Confirm nothing is missing any more',
        args: (p) => ['coordinator', 'reconstruct', '--date', p.date],
        mutates: false,
      },
    ],
  },
  {
    name: 'stale-lock',
    title: 'An expired coordinator lease blocks the date',
    symptom: '`coordinator lock` shows an expired lease from an instance that is gone',
    doc: 'docs/runbooks/stale-lock.md',
    steps: [
      {
        title: 'Show the lease and whether it expired',
        args: (p) => ['coordinator', 'lock', '--date', p.date],
        mutates: false,
      },
      {
        title: 'Release the expired lease',
        args: (p) => ['coordinator', 'unlock', '--date', p.date],
        mutates: true,
      },
      {
        title: 'Start Phase 5 again now that the date is free',
        args: (p) => ['phase', 'run', '5', '--date', p.date],
        mutates: true,
      },
      drain,
      status,
    ],
  },
  {
    name: 'backup-during-run',
    title: 'The 06:00 backup start arrived while Phase 5 was still running',
    symptom: 'a second `/start` for a date whose batch is running',
    doc: 'docs/runbooks/backup-during-run.md',
    steps: [
      {
        title: 'Show the running batch and the live lease that keep the start out',
        args: (p) => ['coordinator', 'show', '--date', p.date],
        mutates: false,
      },
      drain,
      status,
    ],
  },
  {
    name: 'double-trigger',
    title: 'A phase ran twice for one date',
    symptom: 'two trigger messages, two runs per processor for one trigger',
    doc: 'docs/runbooks/double-trigger.md',
    defaultPhase: 3,
    steps: [
      {
        title: 'Find phases that ran twice for one trigger',
        args: (p) => ['health', '--date', p.date, '--check', 'duplicate-trigger'],
        mutates: false,
      },
      {
        title: 'Show the gate that triggered',
        args: (p) => ['orchestrator', 'show', '--phase', String(p.phase), '--date', p.date],
        mutates: false,
      },
      status,
    ],
  },
  {
    name: 'zero-changes',
    title: 'Change detection reports nothing changed; stale predictions are served',
    symptom: '`health` fails `zero-changes`; every `data_hash` is the same',
    doc: 'docs/runbooks/zero-changes.md',
    steps: [
      {
        title: 'Show entities processed and changed per processor',
        args: (p) => ['changes', 'inspect', '--date', p.date],
        mutates: false,
      },
      {
        title: 'Recompute the feature store hashes from the stored rows',
        args: (p) => [
          'changes',
          'verify-hash',
          '--table',
          'nba_predictions.ml_feature_store_v2',
          '--date',
          p.date,
        ],
        mutates: false,
      },
      {
        title: 'Re-run Phase 3 as a full batch so nothing depends on change detection',
        args: (p) => ['phase', 'run', '3', '--date', p.date, '--force-full-batch'],
        mutates: true,
      },
      drain,
      status,
    ],
  },
  {
    name: 'bad-predictions',
    title: 'Predictions or features are NaN, NULL or absurd',
    symptom: '`health` fails `prediction-quality` or `feature-nulls`',
    doc: 'docs/runbooks/bad-predictions.md',
    steps: [
      {
        title: 'Measure prediction quality and feature nulls',
        args: (p) => [
          'health',
          '--date',
          p.date,
          '--check',
          'prediction-quality',
          '--check',
          'feature-nulls',
        ],
        mutates: false,
      },
      status,
    ],
  },
  {
    name: 'empty-output',
    title: 'A processor reported success and wrote no rows',
    symptom: '`health` fails `empty-output`',
    doc: 'docs/runbooks/empty-output.md',
    steps: [
      {
        title: 'Find successful runs whose output table is empty for the date',
        args: (p) => ['health', '--date', p.date, '--check', 'empty-output'],
        mutates: false,
      },
      status,
    ],
  },
  {
    name: 'orphaned-correlation',
    title: 'A correlation id reached an early phase and never Phase 5',
    symptom: '`health` fails `orphaned-correlation`',
    doc: 'docs/runbooks/orphaned-correlation.md',
    steps: [
      {
        title: 'Find correlation ids that never reached Phase 5',
        args: (p) => ['health', '--date', p.date, '--check', 'orphaned-correlation'],
        mutates: false,
      },
      status,
    ],
  },
];

export function findRunbook(name: string): Runbook | undefined {
  return RUNBOOKS.find((r) => r.name === name);
}
