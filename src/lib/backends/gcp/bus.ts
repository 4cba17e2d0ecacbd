/**
 * The Bus port on Pub/Sub. Messages go out through the client's batching publisher, 100 to a
 * Publish call, and each message gets its own outcome so a partial failure is visible per
 * player rather than only in a log line.
 */

import type { PubSub, Topic } from '@google-cloud/pubsub';

import { Unavailable, UserError } from '../../errors.js';
import type { ResiliencePolicy } from '../../resilience.js';
import type { Bus, OutgoingMessage, PublishOutcome } from '../ports.js';
import { Grpc, classifyGrpc, googleMessage, grpcCode, type Target } from './common.js';

/** Pub/Sub's own ceiling per Publish call is 1,000; 100 keeps each call small and quick. */
export const PUBLISH_BATCH = 100;

export class PubSubBus implements Bus {
  private readonly topics = new Map<string, Topic>();
  private readonly ensured = new Set<string>();

  constructor(
    private readonly client: PubSub,
    private readonly policy: ResiliencePolicy,
    private readonly target: Target,
    private readonly timeoutMs: number,
    /** On the emulator topics are created on demand; in a real project they are infrastructure. */
    private readonly createTopics: boolean,
  ) {}

  async publish(topicName: string, messages: OutgoingMessage[]): Promise<PublishOutcome[]> {
    if (messages.length === 0) return [];
    // An emulator starts with no topics; create each on first use, as the sandbox does.
    if (this.createTopics && !this.ensured.has(topicName)) {
      await this.ensureTopic(topicName);
      this.ensured.add(topicName);
    }
    const topic = this.topic(topicName);
    // Not retried as a whole: a repeat would publish the messages that did get through a
    // second time. Consumers drop duplicates by idempotency key, but we do not invite them.
    // The outer deadline only backs up the per-message one below.
    return this.policy.execute(() => this.publishAll(topic, messages), {
      idempotent: false,
      timeoutMs: this.timeoutMs * 2,
    });
  }

  /**
   * On the emulator, creates the topic. In a real project an operations tool must not create
   * infrastructure (and usually may not): it only checks that the topic exists, so a typo in
   * the configuration fails with its name instead of a publish error, and it stays silent
   * when the operator may publish but not read topic metadata.
   */
  async ensureTopic(topicName: string): Promise<void> {
    const topic = this.topic(topicName);
    await this.policy.execute(async () => {
      try {
        if (this.createTopics) {
          await topic.create();
          return;
        }
        const [exists] = await topic.exists();
        if (!exists) {
          throw new UserError(`Topic ${topicName} does not exist in ${this.target.name}`, {
            hint: 'Check the topics section of pipectl.config.json against the project.',
          });
        }
      } catch (error) {
        if (error instanceof UserError) throw error;
        const code = grpcCode(error);
        if (code === Grpc.ALREADY_EXISTS || code === Grpc.PERMISSION_DENIED) return;
        throw classifyGrpc(error, this.target, `Topic ${topicName}`);
      }
    });
  }

  async ping(): Promise<void> {
    await this.policy.execute(async () => {
      try {
        await this.client.getTopics({ pageSize: 1, autoPaginate: false });
      } catch (error) {
        throw classifyGrpc(error, this.target);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.topics.values()].map((topic) => topic.flush()));
    await this.client.close();
  }

  private async publishAll(topic: Topic, messages: OutgoingMessage[]): Promise<PublishOutcome[]> {
    const outcomes: (PublishOutcome | undefined)[] = new Array(messages.length);
    let firstError: unknown;
    const pending = messages.map((message, index) =>
      topic
        .publishMessage({
          data: Buffer.from(JSON.stringify(message.data)),
          attributes: message.attributes,
        })
        .then(
          (messageId) => void (outcomes[index] = { ok: true, messageId }),
          (error: unknown) => {
            firstError ??= error;
            outcomes[index] = { ok: false, error: googleMessage(error) };
          },
        ),
    );
    // Send the last partial batch now instead of waiting for the batching timer.
    void topic.flush().catch(() => undefined);

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.timeoutMs);
    });
    await Promise.race([Promise.all(pending), deadline]);
    clearTimeout(timer);

    const late = `no answer from ${this.target.name} within ${this.timeoutMs} ms`;
    const result = outcomes.map((outcome): PublishOutcome => outcome ?? { ok: false, error: late });
    // When nothing at all got through, the topic or the service is the problem, not one
    // message: report it as a single error the operator can act on.
    if (result.every((outcome) => !outcome.ok)) {
      throw firstError === undefined
        ? new Unavailable(`${this.target.name} did not answer within ${this.timeoutMs} ms`, {
            hint: this.target.hint,
          })
        : classifyGrpc(firstError, this.target, `Topic ${topic.name}`);
    }
    return result;
  }

  private topic(name: string): Topic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = this.client.topic(name, {
        batching: { maxMessages: PUBLISH_BATCH, maxMilliseconds: 10 },
        gaxOpts: { timeout: this.timeoutMs },
      });
      this.topics.set(name, topic);
    }
    return topic;
  }
}
