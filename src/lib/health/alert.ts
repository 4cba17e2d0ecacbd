/**
 * Posts failed checks to a Slack-compatible incoming webhook. It depends on nothing but HTTP,
 * so the alert still goes out when the warehouse or the document store is the thing that is
 * down. Transient failures (network errors, 429, 5xx) are retried with exponential backoff
 * and jitter; a 4xx other than 429 is the webhook refusing the message and is not retried.
 */

import type { HealthReport } from './index.js';

export interface AlertOptions {
  /** Profile name shown in the message (prod alerts must not look like sandbox ones). */
  profile: string;
  attempts?: number;
  /** First backoff; doubles each attempt, with up to 50% jitter. */
  baseDelayMs?: number;
  timeoutMs?: number;
}

export interface AlertOutcome {
  sent: boolean;
  attempts: number;
  status: number | null;
  error: string | null;
}

export interface SlackMessage {
  text: string;
  blocks: Record<string, unknown>[];
}

export function alertMessage(report: HealthReport, profile: string): SlackMessage {
  const failed = report.checks.filter((c) => c.status === 'fail');
  const down = report.unavailable.length
    ? ` (${report.unavailable.join(' and ')} unreachable)`
    : '';
  const text =
    `pipectl health on ${profile}: ${failed.length} of ${report.checks.length} checks failed ` +
    `for ${report.game_date}${down}: ${failed.map((c) => c.name).join(', ')}`;
  const blocks: Record<string, unknown>[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: `Pipeline health: ${report.game_date} (${profile})` },
    },
    { type: 'section', text: { type: 'mrkdwn', text } },
    ...failed.slice(0, 20).map((c) => ({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `*${c.name}*: ${c.value} (threshold: ${c.threshold})\n${c.detail}${
            c.next ? `\nNext: \`${c.next}\`` : ''
          }`,
          2900,
        ),
      },
    })),
    {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: `as of ${report.as_of.toISOString()}, ${report.queries} queries` },
      ],
    },
  ];
  return { text, blocks };
}

export async function postAlert(
  url: string,
  report: HealthReport,
  options: AlertOptions,
): Promise<AlertOutcome> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 500;
  const body = JSON.stringify(alertMessage(report, options.profile));
  let last: AlertOutcome = { sent: false, attempts: 0, status: null, error: null };

  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      await response.text().catch(() => '');
      if (response.ok)
        return { sent: true, attempts: attempt, status: response.status, error: null };
      last = {
        sent: false,
        attempts: attempt,
        status: response.status,
        error: `HTTP ${response.status}`,
      };
      if (response.status < 500 && response.status !== 429) return last;
    } catch (error) {
      last = { sent: false, attempts: attempt, status: null, error: (error as Error).message };
    }
    if (attempt < attempts) {
      const delay = base * 2 ** (attempt - 1);
      await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * (delay / 2)));
    }
  }
  return last;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
