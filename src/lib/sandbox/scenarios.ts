/**
 * The scenario catalogue: one per failure mode the pipeline is known for, plus `healthy`. Each
 * entry says what `init` writes and what `status` should show right after it, which is how the
 * tests prove every scenario is visible to an on-call engineer.
 */

export const SCENARIO_NAMES = [
  'healthy',
  'stuck-orchestrator',
  'coordinator-crash',
  'double-trigger',
  'stale-lock',
  'zero-changes',
  'nan-predictions',
  'null-features',
  'empty-output',
  'orphaned-correlation',
  'backup-during-run',
  'lost-trigger',
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface ScenarioInfo {
  name: ScenarioName;
  summary: string;
  /** The recovery, in commands an operator types. */
  recovery: string;
}

export const SCENARIOS: Record<ScenarioName, ScenarioInfo> = {
  healthy: {
    name: 'healthy',
    summary: 'Every phase complete, every player predicted; nothing to do.',
    recovery: 'none',
  },
  'stuck-orchestrator': {
    name: 'stuck-orchestrator',
    summary:
      'Phase 3 at 4 of 5: TeamDefenseGameSummaryProcessor failed and keeps failing; Phase 4 ' +
      'never triggered.',
    recovery: 'orchestrator force-complete --phase 3, then sandbox drain',
  },
  'coordinator-crash': {
    name: 'coordinator-crash',
    summary:
      'The coordinator died mid-batch: batch running, ~84% predicted, state 40 minutes stale, ' +
      'lease expired.',
    recovery: 'coordinator reconstruct, coordinator republish, then sandbox drain',
  },
  'double-trigger': {
    name: 'double-trigger',
    summary:
      'Two Phase 3 processors finished together and Phase 4 was triggered twice: two runs, ' +
      'duplicate feature rows.',
    recovery: 'health --date D to see the duplicates; re-run Phase 4 once',
  },
  'stale-lock': {
    name: 'stale-lock',
    summary:
      'A coordinator took the lease and vanished before starting the batch: expired lease, no ' +
      'predictions.',
    recovery: 'coordinator unlock, phase run 5, then sandbox drain',
  },
  'zero-changes': {
    name: 'zero-changes',
    summary:
      'A broken row hash: every data_hash identical, zero entities changed on a game day, ' +
      'stale predictions.',
    recovery: 'changes verify-hash to confirm, fix the hasher, re-run with a full batch',
  },
  'nan-predictions': {
    name: 'nan-predictions',
    summary: 'Predictions written on time, but about 12% of predicted_points are NaN.',
    recovery: 'health --date D, then re-predict the bad players',
  },
  'null-features': {
    name: 'null-features',
    summary:
      'Feature rows exist for everyone, but about 35% have NULL similarity_baseline and ' +
      'fatigue_adjustment.',
    recovery: 'health --date D, then re-run the feature store',
  },
  'empty-output': {
    name: 'empty-output',
    summary: 'OddsApiPropsProcessor reported success and wrote no rows.',
    recovery: 'health --date D, then re-run the processor once the source has data',
  },
  'orphaned-correlation': {
    name: 'orphaned-correlation',
    summary:
      'A Phase 3 re-run after the batch carried changed players under a correlation id that ' +
      'never reached Phase 5.',
    recovery: 'phase run 4 to carry the change through to predictions',
  },
  'backup-during-run': {
    name: 'backup-during-run',
    summary:
      'The 06:00 backup /start arrived while Phase 5 was still running: live lease, 300/450, ' +
      'the start request queued.',
    recovery: 'let the guard skip the duplicate start: sandbox drain; never emergency-start here',
  },
  'lost-trigger': {
    name: 'lost-trigger',
    summary:
      'The Phase 2 gate was marked triggered but the orchestrator died before publishing: ' +
      'nothing downstream ran.',
    recovery: 'orchestrator retrigger --phase 2 (or phase run 3), then sandbox drain',
  },
};

export function isScenarioName(value: string): value is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(value);
}
