import { describe, expect, it } from 'vitest';

import { listAudit } from '../../src/lib/audit.js';
import { Refusal, UserError } from '../../src/lib/errors.js';
import { CommandContext, type GlobalOptions } from '../../src/terminal/context.js';
import { tempSandbox } from '../helpers/cli.js';

function context(globals: Partial<GlobalOptions>): CommandContext {
  // Silence output: these tests look at state, not text.
  const ctx = new CommandContext({ json: true, ...globals });
  Object.assign(ctx.out, { result: () => undefined, log: () => undefined });
  return ctx;
}

const plan = { summary: 'Write one document', columns: ['path'], rows: [['t/one']] };

async function mutateOnce(globals: Partial<GlobalOptions>, requireReason = false) {
  const ctx = context(globals);
  const backends = await ctx.backends();
  let applied = 0;
  try {
    return await ctx.mutate({
      command: 'test write',
      args: { path: 't/one' },
      plan,
      requireReason,
      apply: async () => {
        applied += 1;
        await backends.documents.set('t/one', { ok: true });
        return applied;
      },
    });
  } finally {
    const audit = await listAudit(backends.documents, ctx.config.collections.opsAudit, {
      limit: 10,
    });
    const written = (await backends.documents.get('t/one')).exists;
    Object.assign(lastState, { audit, written, applied });
    await ctx.close();
  }
}

const lastState: { audit: unknown[]; written: boolean; applied: number } = {
  audit: [],
  written: false,
  applied: 0,
};

describe('the mutation sequence', () => {
  it('writes nothing, not even an audit record, on --dry-run', async () => {
    const result = await mutateOnce({ sandbox: tempSandbox(), dryRun: true });
    expect(result).toEqual({ applied: false, dryRun: true });
    expect(lastState).toMatchObject({ written: false, applied: 0, audit: [] });
  });

  it('refuses with exit 3 when there is no terminal and no --yes', async () => {
    await expect(mutateOnce({ sandbox: tempSandbox() })).rejects.toBeInstanceOf(Refusal);
    expect(lastState).toMatchObject({ written: false, applied: 0, audit: [] });
  });

  it('applies with --yes and writes one audit record naming actor, profile and reason', async () => {
    const result = await mutateOnce({ sandbox: tempSandbox(), yes: true, reason: 'drill' });
    expect(result).toEqual({ applied: true, result: 1 });
    expect(lastState.written).toBe(true);
    expect(lastState.audit).toHaveLength(1);
    expect(lastState.audit[0]).toMatchObject({
      command: 'test write',
      profile: 'local',
      reason: 'drill',
      outcome: 'success',
      dry_run: false,
    });
  });

  it('requires --reason where a guard is overridden, before any write', async () => {
    await expect(mutateOnce({ sandbox: tempSandbox(), yes: true }, true)).rejects.toBeInstanceOf(
      UserError,
    );
    expect(lastState).toMatchObject({ written: false, applied: 0 });
  });
});
