/**
 * Configuration: built-in defaults, overridden by pipectl.config.json (found from the working
 * directory upward, or named by --config), then one profile chosen by --profile or
 * PIPECTL_PROFILE. Everything from the file is validated here, at the edge, so the rest of the
 * code can trust it; a bad value is reported with its key, the value and what is accepted.
 */

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

import { UserError } from './errors.js';
import {
  DEFAULT_COLLECTIONS,
  DEFAULT_PHASE2,
  DEFAULT_PHASE3,
  DEFAULT_PHASE4,
  DEFAULT_TABLES,
  DEFAULT_TOPICS,
  type GatedPhase,
  type ProcessorDef,
} from './pipeline.js';

export const CONFIG_FILE = 'pipectl.config.json';
export const PROFILE_NAMES = ['local', 'emulator', 'staging', 'prod'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

const name = z.string().regex(/^[A-Za-z0-9_\-]+$/, 'letters, digits, "_" and "-" only');
/** A SQL column name: it is spliced (quoted) into queries, so nothing else is accepted. */
const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name: a letter or "_", then letters, digits, "_"');
const tableName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'a `dataset.table` name');
const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-]+:\d{1,5}$/, 'host:port, for example 127.0.0.1:8080');
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL');
const timeZone = z.string().refine(isTimeZone, 'an IANA time zone such as America/Los_Angeles');
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM on a 24-hour clock');

const processorSchema = z.strictObject({
  name: name,
  table: tableName,
  entityColumn: name,
  level: z.number().int().min(1).max(9).optional(),
});

const profileSchema = z.strictObject({
  backend: z.enum(['local', 'gcp']),
  projectId: name.optional(),
  /** The DuckDB file of the `local` backend. */
  sandbox: z.string().min(1).optional(),
  /** Emulator hosts; when set the Google clients never leave this machine. */
  firestoreEmulatorHost: hostPort.optional(),
  pubsubEmulatorHost: hostPort.optional(),
  /** BigQuery REST endpoint, for example the test server on loopback. */
  bigqueryEndpoint: httpUrl.optional(),
  bigqueryLocation: z.string().optional(),
  /** How `phase run` reaches a phase: its trigger topic, or its Cloud Run endpoint. */
  triggerVia: z.enum(['pubsub', 'http']),
  endpoints: z
    .strictObject({
      coordinator: httpUrl.optional(),
      phase4: httpUrl.optional(),
      featureStore: httpUrl.optional(),
      phase3: httpUrl.optional(),
    })
    .default({}),
  /** Per-call deadline for every backend call, in milliseconds. */
  timeoutMs: z.number().int().min(100).max(600_000),
  /** Mutations ask the operator to type the game date (production). */
  typedConfirmation: z.boolean(),
  alertWebhook: httpUrl.optional(),
});

const configSchema = z.strictObject({
  timezone: timeZone,
  sla: z.strictObject({ timezone: timeZone, deadline: clock }),
  entityCap: z.number().int().min(1).max(100_000),
  collections: z.strictObject({
    phase2Completion: name,
    phase3Completion: name,
    phase4Completion: name,
    predictions: name,
    republished: name,
    coordinatorLock: name,
    phaseTriggers: name,
    opsAudit: name,
  }),
  tables: z.strictObject({
    runHistory: tableName,
    featureStore: tableName,
    predictions: tableName,
  }),
  topics: z.strictObject({
    phase2Complete: name,
    phase3Complete: name,
    phase4Complete: name,
    phase2Trigger: name,
    phase3Trigger: name,
    phase4Trigger: name,
    phase5Trigger: name,
    predictionRequest: name,
    predictionComplete: name,
  }),
  processors: z.strictObject({
    phase2: z.array(processorSchema).min(1),
    phase3: z.array(processorSchema).min(1),
    phase4: z.array(processorSchema).min(1),
  }),
  health: z.strictObject({
    predictionMeanMin: z.number(),
    predictionMeanMax: z.number(),
    predictionBadRatioMax: z.number().min(0).max(1),
    featureNullRatioMax: z.number().min(0).max(1),
    criticalFeatures: z.array(identifier).min(1),
    zeroChangeHours: z.number().min(1).max(48),
    firstRunMinEntities: z.number().int().min(0),
    coverageWarnRatio: z.number().min(0).max(1),
    /** Coverage below coverageWarnRatio fails (instead of warning) this close to the SLA. */
    coverageFailWithinMinutes: z.number().int().min(0).max(1440),
    /** A correlation id not in Phase 5 this long after its last early run is orphaned. */
    orphanAfterMinutes: z.number().int().min(1).max(2880),
    /** A gate that has not triggered and heard no report for this long is stuck. */
    stuckGateMinutes: z.number().int().min(1).max(1440),
  }),
  coordinator: z.strictObject({
    leaseSeconds: z.number().int().min(10).max(86_400),
    staleAfterMinutes: z.number().int().min(1).max(1440),
    publishBatchSize: z.number().int().min(1).max(1000),
  }),
  profiles: z.record(z.enum(PROFILE_NAMES), profileSchema),
});

export type Profile = z.infer<typeof profileSchema>;
export type PipelineConfig = z.infer<typeof configSchema>;

export interface ResolvedConfig extends Omit<PipelineConfig, 'profiles'> {
  /** Where the configuration came from: a file path, or `built-in defaults`. */
  source: string;
  profileName: ProfileName;
  profile: Profile & { projectId: string };
}

export const DEFAULT_CONFIG: PipelineConfig = {
  timezone: 'America/Los_Angeles',
  sla: { timezone: 'America/New_York', deadline: '10:00' },
  entityCap: 100,
  collections: { ...DEFAULT_COLLECTIONS },
  tables: { ...DEFAULT_TABLES },
  topics: { ...DEFAULT_TOPICS },
  processors: { phase2: DEFAULT_PHASE2, phase3: DEFAULT_PHASE3, phase4: DEFAULT_PHASE4 },
  health: {
    predictionMeanMin: 5,
    predictionMeanMax: 50,
    predictionBadRatioMax: 0.05,
    featureNullRatioMax: 0.1,
    criticalFeatures: ['similarity_baseline', 'fatigue_adjustment'],
    zeroChangeHours: 6,
    firstRunMinEntities: 100,
    coverageWarnRatio: 0.95,
    coverageFailWithinMinutes: 60,
    orphanAfterMinutes: 120,
    stuckGateMinutes: 30,
  },
  coordinator: { leaseSeconds: 600, staleAfterMinutes: 15, publishBatchSize: 100 },
  profiles: {
    local: {
      backend: 'local',
      projectId: 'pipectl-sandbox',
      sandbox: '.pipectl/sandbox.duckdb',
      triggerVia: 'pubsub',
      endpoints: {},
      timeoutMs: 5000,
      typedConfirmation: false,
    },
    emulator: {
      backend: 'gcp',
      projectId: 'pipectl-emulator',
      firestoreEmulatorHost: '127.0.0.1:8080',
      pubsubEmulatorHost: '127.0.0.1:8085',
      bigqueryEndpoint: 'http://127.0.0.1:9050',
      triggerVia: 'pubsub',
      endpoints: {},
      timeoutMs: 5000,
      typedConfirmation: false,
    },
    staging: {
      backend: 'gcp',
      projectId: 'nba-props-staging',
      triggerVia: 'pubsub',
      endpoints: {},
      timeoutMs: 10_000,
      typedConfirmation: false,
    },
    prod: {
      backend: 'gcp',
      projectId: 'nba-props-prod',
      triggerVia: 'pubsub',
      endpoints: {},
      timeoutMs: 10_000,
      typedConfirmation: true,
    },
  },
};

export interface LoadOptions {
  /** --config: an explicit file; it must exist. */
  configPath?: string;
  /** --profile, else PIPECTL_PROFILE, else `local`. */
  profile?: string;
  /** --sandbox, else PIPECTL_SANDBOX: overrides the local profile's DuckDB file. */
  sandbox?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(options: LoadOptions = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.configPath ?? env.PIPECTL_CONFIG;
  const path = explicit ? resolve(cwd, explicit) : findUpward(cwd, CONFIG_FILE);
  if (explicit && !existsSync(path!)) {
    throw new UserError(`Config file ${path} does not exist`, {
      hint: 'Pass an existing file to --config, or drop the option to use built-in defaults.',
    });
  }

  const fromFile = path ? readJson(path) : {};
  const merged = deepMerge(DEFAULT_CONFIG, fromFile);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw configError(path ?? 'built-in defaults', parsed.error, merged);
  const config = parsed.data;

  const profileName = resolveProfileName(options.profile ?? env.PIPECTL_PROFILE);
  const profile = config.profiles[profileName];
  if (!profile) {
    throw new UserError(`Profile "${profileName}" is not defined in ${path ?? 'the defaults'}`);
  }
  const sandbox = options.sandbox ?? env.PIPECTL_SANDBOX;
  const resolvedProfile = {
    ...applyEmulatorEnv(profileName, profile, env),
    projectId: profile.projectId ?? `pipectl-${profileName}`,
    ...(profile.backend === 'local'
      ? {
          sandbox: resolve(
            path ? dirname(path) : cwd,
            sandbox ?? profile.sandbox ?? '.pipectl/sandbox.duckdb',
          ),
        }
      : {}),
  };

  const { profiles: _profiles, ...rest } = config;
  return { ...rest, source: path ?? 'built-in defaults', profileName, profile: resolvedProfile };
}

function resolveProfileName(value: string | undefined): ProfileName {
  const chosen = value ?? 'local';
  if ((PROFILE_NAMES as readonly string[]).includes(chosen)) return chosen as ProfileName;
  throw new UserError(`Unknown profile "${chosen}"`, {
    hint: `Use one of: ${PROFILE_NAMES.join(', ')} (with --profile or PIPECTL_PROFILE).`,
  });
}

/** The standard emulator variables win over the file, so a test harness can point anywhere. */
function applyEmulatorEnv(
  profileName: ProfileName,
  profile: Profile,
  env: NodeJS.ProcessEnv,
): Profile {
  if (profileName !== 'emulator') return profile;
  return {
    ...profile,
    firestoreEmulatorHost: env.FIRESTORE_EMULATOR_HOST ?? profile.firestoreEmulatorHost,
    pubsubEmulatorHost: env.PUBSUB_EMULATOR_HOST ?? profile.pubsubEmulatorHost,
    bigqueryEndpoint: env.PIPECTL_BIGQUERY_ENDPOINT ?? profile.bigqueryEndpoint,
  };
}

export function processorsFor(
  config: Pick<PipelineConfig, 'processors'>,
  phase: GatedPhase,
): ProcessorDef[] {
  return config.processors[`phase${phase}`];
}

export function gateCollection(
  config: Pick<PipelineConfig, 'collections'>,
  phase: GatedPhase,
): string {
  return config.collections[`phase${phase}Completion`];
}

function findUpward(start: string, file: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, file);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserError(`Cannot read config file ${path}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`Config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function configError(source: string, error: z.ZodError, value: unknown): UserError {
  const lines = error.issues.slice(0, 5).map((issue) => {
    const key = issue.path.join('.') || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? `${key}.` : '';
      return `unknown key ${issue.keys.map((k) => `"${where}${k}"`).join(', ')}`;
    }
    const got = JSON.stringify(valueAt(value, issue.path)) ?? 'nothing';
    return `${key}: got ${got}; expected ${describeExpected(issue)}`;
  });
  return new UserError(`Invalid configuration in ${source}:\n  ${lines.join('\n  ')}`, {
    hint: 'Fix the key named above; `pipectl config show` prints the resolved configuration.',
  });
}

function describeExpected(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_value') return `one of ${issue.values.map(String).join(', ')}`;
  if (issue.code === 'invalid_type') return `a ${issue.expected}`;
  if (issue.code === 'too_small') return `at least ${String(issue.minimum)}`;
  if (issue.code === 'too_big') return `at most ${String(issue.maximum)}`;
  return issue.message;
}

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Objects merge key by key; arrays and scalars from the file replace the default. */
function deepMerge<T>(base: T, override: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(override)) {
    return (override === undefined ? base : override) as T;
  }
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    out[key] = key in out ? deepMerge(out[key], value) : value;
  }
  return out as T;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
