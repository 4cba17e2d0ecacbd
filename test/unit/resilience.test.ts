import { describe, expect, it } from 'vitest';

import { PreconditionFailed, Unavailable } from '../../src/lib/errors.js';
import { createPolicy } from '../../src/lib/resilience.js';

const down = () => new Unavailable('backend is down');

describe('createPolicy', () => {
  it('retries a transient failure and returns the later success', async () => {
    const policy = createPolicy({ name: 'Test backend', timeoutMs: 5_000, retries: 2 });
    let calls = 0;
    const result = await policy.execute(async () => {
      calls += 1;
      if (calls < 3) throw down();
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('never repeats a call marked not idempotent', async () => {
    const policy = createPolicy({ name: 'Test backend', timeoutMs: 5_000, retries: 3 });
    let calls = 0;
    const error = await policy
      .execute(
        async () => {
          calls += 1;
          throw down();
        },
        { idempotent: false },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Unavailable);
    expect(calls).toBe(1);
  });

  it('passes a lost precondition through at once, without retrying it', async () => {
    const policy = createPolicy({ name: 'Test backend', timeoutMs: 5_000, retries: 3 });
    let calls = 0;
    const lost = new PreconditionFailed('exists', 'already-exists');
    const error = await policy
      .execute(async () => {
        calls += 1;
        throw lost;
      })
      .catch((e: unknown) => e);
    expect(error).toBe(lost);
    expect(calls).toBe(1);
  });

  it('turns a missed deadline into Unavailable naming the backend and the deadline', async () => {
    const policy = createPolicy({ name: 'Slow backend at 127.0.0.1:9', timeoutMs: 100 });
    const error = await policy
      .execute(() => new Promise((resolve) => setTimeout(resolve, 2_000)))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Unavailable);
    expect((error as Unavailable).message).toBe(
      'Slow backend at 127.0.0.1:9 did not answer within 100 ms',
    );
    expect((error as Unavailable).exitCode).toBe(4);
  });

  it('maps client errors through classify so the family decides what is transient', async () => {
    const policy = createPolicy({
      name: 'Test backend',
      timeoutMs: 5_000,
      retries: 1,
      classify: (error) => ((error as { code?: number }).code === 14 ? down() : error),
    });
    let calls = 0;
    const error = await policy
      .execute(async () => {
        calls += 1;
        throw Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Unavailable);
    expect(calls).toBe(2);
  });

  it('opens the breaker after consecutive failed calls and then refuses without calling', async () => {
    const policy = createPolicy({
      name: 'Flaky backend',
      timeoutMs: 5_000,
      retries: 0,
      breakerThreshold: 3,
      halfOpenAfterMs: 60_000,
    });
    let calls = 0;
    const fail = () =>
      policy
        .execute(async () => {
          calls += 1;
          throw down();
        })
        .catch((e: unknown) => e);
    for (let i = 0; i < 3; i++) await fail();
    const error = await fail();
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(Unavailable);
    expect((error as Unavailable).message).toBe(
      'Flaky backend failed repeatedly; pipectl stops calling it for 60 s',
    );
  });

  it('does not open the breaker for failures that are not outages', async () => {
    const policy = createPolicy({ name: 'Test backend', timeoutMs: 5_000, breakerThreshold: 2 });
    for (let i = 0; i < 4; i++) {
      await policy
        .execute(async () => {
          throw new PreconditionFailed('missing', 'not-found');
        })
        .catch(() => undefined);
    }
    await expect(policy.execute(async () => 'still open')).resolves.toBe('still open');
  });
});
