/**
 * The embedded message bus: every publish appends to a topic log in the sandbox file. The
 * sandbox's simulated services read pending messages from the same log and mark them consumed,
 * so a drill shows exactly what pipectl sent and what reacted to it.
 */

import { randomUUID } from 'node:crypto';

import { BIGINT, LIST, TIMESTAMP, VARCHAR, listValue, timestampValue } from '@duckdb/node-api';

import type { Bus, OutgoingMessage, PublishOutcome } from '../ports.js';
import { LocalDatabase } from './database.js';

export interface LoggedMessage {
  seq: number;
  messageId: string;
  topic: string;
  data: Record<string, unknown>;
  attributes: Record<string, string>;
  publishedAt: Date;
  consumedAt: Date | null;
  consumedBy: string | null;
}

export class LocalBus implements Bus {
  constructor(private readonly db: LocalDatabase) {}

  async ensureTopic(_topic: string): Promise<void> {
    // Topics in the log exist as soon as a message names them.
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<PublishOutcome[]> {
    if (messages.length === 0) return [];
    const now = timestampValue(BigInt(Date.now()) * 1000n);
    try {
      return await this.db.atomic(async (c) => {
        const insert = await c.prepare(
          `INSERT INTO _pipectl.messages (seq, message_id, topic, data, attributes, published_at)
           VALUES (nextval('_pipectl.message_seq'), $id, $topic, $data, $attributes, $now)`,
        );
        const outcomes: PublishOutcome[] = [];
        for (const message of messages) {
          const id = randomUUID();
          insert.bind(
            {
              id,
              topic,
              data: JSON.stringify(message.data),
              attributes: JSON.stringify(message.attributes),
              now,
            },
            { now: TIMESTAMP },
          );
          await insert.run();
          outcomes.push({ ok: true, messageId: id });
        }
        return outcomes;
      });
    } catch (error) {
      // The log append is one transaction: either every message is in it or none is.
      const reason = (error as Error).message;
      return messages.map(() => ({ ok: false as const, error: reason }));
    }
  }
}

/** Reads and consumes the topic log; used by the sandbox, never by production code paths. */
export class MessageLog {
  constructor(private readonly db: LocalDatabase) {}

  async list(
    options: { topic?: string; pendingOnly?: boolean; limit?: number } = {},
  ): Promise<LoggedMessage[]> {
    return this.db.use(async (c) => {
      const reader = await c.runAndReadAll(
        `SELECT seq, message_id, topic, data, attributes, published_at, consumed_at, consumed_by
         FROM _pipectl.messages
         WHERE ($topic IS NULL OR topic = $topic) AND (NOT $pending OR consumed_at IS NULL)
         ORDER BY seq LIMIT $limit`,
        {
          topic: options.topic ?? null,
          pending: options.pendingOnly ?? false,
          limit: options.limit ?? 1_000_000,
        },
        { topic: VARCHAR },
      );
      return reader.getRowObjectsJS().map((row) => ({
        seq: Number(row.seq),
        messageId: String(row.message_id),
        topic: String(row.topic),
        data: JSON.parse(String(row.data)) as Record<string, unknown>,
        attributes: JSON.parse(String(row.attributes)) as Record<string, string>,
        publishedAt: row.published_at as Date,
        consumedAt: (row.consumed_at as Date | null) ?? null,
        consumedBy: (row.consumed_by as string | null) ?? null,
      }));
    });
  }

  /**
   * Marks many messages consumed in one statement; returns the seqs this call took (a seq
   * another consumer already took is left out).
   */
  async consumeMany(seqs: number[], consumer: string): Promise<number[]> {
    if (seqs.length === 0) return [];
    return this.db.use(async (c) => {
      const reader = await c.runAndReadAll(
        `UPDATE _pipectl.messages SET consumed_at = $now, consumed_by = $consumer
         WHERE seq IN (SELECT UNNEST($seqs)) AND consumed_at IS NULL RETURNING seq`,
        {
          now: timestampValue(BigInt(Date.now()) * 1000n),
          consumer,
          seqs: listValue(seqs.map((s) => BigInt(s))),
        },
        { now: TIMESTAMP, seqs: LIST(BIGINT) },
      );
      return reader.getRows().map((row) => Number(row[0]));
    });
  }

  /** Marks a message consumed; false when another consumer took it first. */
  async consume(seq: number, consumer: string): Promise<boolean> {
    return this.db.use(async (c) => {
      const reader = await c.runAndReadAll(
        `UPDATE _pipectl.messages SET consumed_at = $now, consumed_by = $consumer
         WHERE seq = $seq AND consumed_at IS NULL RETURNING seq`,
        { now: timestampValue(BigInt(Date.now()) * 1000n), consumer, seq },
        { now: TIMESTAMP },
      );
      return reader.getRows().length === 1;
    });
  }
}
