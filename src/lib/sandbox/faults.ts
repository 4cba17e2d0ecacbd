/**
 * The sandbox's own document: which scenario it was built from, with which seed and roster,
 * and the faults that keep happening. A fault persists until pipectl repairs around it: a
 * failing processor fails on every run, so only a force-complete gets its phase past the gate.
 */

import type { Documents } from '../backends/ports.js';

export const SANDBOX_DOC = '_sandbox/faults';

export interface Faults {
  /** Processors that fail on every run: a failed run row, no report. */
  failingProcessors: string[];
  /** Processors that report success and write no rows. */
  emptyProcessors: string[];
  /** Every output row gets the same `data_hash`, so nothing ever looks changed. */
  brokenHash: boolean;
  /** Share of predictions written as NaN (0..1). */
  nanShare: number;
  /** Share of feature rows with NULL critical features (0..1). */
  nullFeatureShare: number;
}

export const NO_FAULTS: Faults = {
  failingProcessors: [],
  emptyProcessors: [],
  brokenHash: false,
  nanShare: 0,
  nullFeatureShare: 0,
};

export interface SandboxState {
  scenario: string;
  gameDate: string;
  seed: number;
  players: number;
  faults: Faults;
}

/** The state `init` left, or a plain 450-player league when the file was never initialised. */
export async function readSandboxState(documents: Documents): Promise<SandboxState> {
  const snapshot = await documents.get(SANDBOX_DOC);
  const data = snapshot.data ?? {};
  const faults = (data.faults ?? {}) as Partial<Faults>;
  return {
    scenario: typeof data.scenario === 'string' ? data.scenario : 'none',
    gameDate: typeof data.game_date === 'string' ? data.game_date : '',
    seed: typeof data.seed === 'number' ? data.seed : 1,
    players: typeof data.players === 'number' ? data.players : 450,
    faults: {
      failingProcessors: stringList(faults.failingProcessors),
      emptyProcessors: stringList(faults.emptyProcessors),
      brokenHash: faults.brokenHash === true,
      nanShare: typeof faults.nanShare === 'number' ? faults.nanShare : 0,
      nullFeatureShare: typeof faults.nullFeatureShare === 'number' ? faults.nullFeatureShare : 0,
    },
  };
}

export async function writeSandboxState(documents: Documents, state: SandboxState): Promise<void> {
  await documents.set(SANDBOX_DOC, {
    scenario: state.scenario,
    game_date: state.gameDate,
    seed: state.seed,
    players: state.players,
    faults: { ...state.faults },
  });
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
