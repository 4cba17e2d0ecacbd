/**
 * Everything a command prints goes through here. Data goes to stdout, everything else
 * (progress, logs, prompts, plans being confirmed) to stderr. With --json stdout carries one
 * JSON document, or NDJSON events for long operations, and nothing else. Spinners and colour
 * appear only on a terminal, never with --json, CI, NO_COLOR or --no-color.
 */

import { stripVTControlCharacters } from 'node:util';

import { Chalk, type ChalkInstance } from 'chalk';

export interface OutputOptions {
  json: boolean;
  color: boolean;
  verbose: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

export interface Spinner {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

export type Cell = string | number | boolean | null | undefined;

export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  /** A person is watching stderr: spinners and progress are worth drawing. */
  readonly interactive: boolean;
  readonly style: Styles;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;
  private wroteDocument = false;

  constructor(options: OutputOptions) {
    const env = options.env ?? process.env;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.json = options.json;
    this.verbose = options.verbose;
    const quiet = options.json || Boolean(env.CI) || 'NO_COLOR' in env;
    const tty = Boolean(this.stderr.isTTY);
    this.interactive = tty && !quiet;
    this.style = styles(new Chalk({ level: options.color && tty && !quiet ? 1 : 0 }));
  }

  /** The command's result: a JSON document with --json, the rendered text otherwise. */
  result(data: unknown, render: () => string): void {
    if (this.json) {
      if (this.wroteDocument) throw new Error('A command printed two JSON documents');
      this.wroteDocument = true;
      this.stdout.write(`${JSON.stringify(data, jsonReplacer, 2)}\n`);
    } else {
      const text = render();
      if (text) this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** One NDJSON line per event with --json (long operations); nothing otherwise. */
  event(data: Record<string, unknown>): void {
    if (this.json) this.stdout.write(`${JSON.stringify(data, jsonReplacer)}\n`);
  }

  /** Plain data lines for people, on stdout; suppressed with --json. */
  print(text: string): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  log(message: string): void {
    this.stderr.write(`${message}\n`);
  }

  warn(message: string): void {
    this.stderr.write(`${this.style.warn('warning')} ${message}\n`);
  }

  error(message: string, hint?: string): void {
    this.stderr.write(`${this.style.fail('error')} ${message}\n`);
    if (hint) this.stderr.write(`      ${hint}\n`);
  }

  debug(message: string): void {
    if (this.verbose) this.stderr.write(`${this.style.dim(message)}\n`);
  }

  /** A spinner on a terminal; elsewhere only the final line is logged. */
  async spinner(text: string): Promise<Spinner> {
    if (!this.interactive) {
      return {
        update: () => undefined,
        succeed: (t) => !this.json && this.log(`${this.style.ok('done')} ${t}`),
        fail: (t) => !this.json && this.log(`${this.style.fail('failed')} ${t}`),
        stop: () => undefined,
      };
    }
    const { default: ora } = await import('ora');
    const spinner = ora({ text, stream: this.stderr }).start();
    return {
      update: (t) => void (spinner.text = t),
      succeed: (t) => void spinner.succeed(t),
      fail: (t) => void spinner.fail(t),
      stop: () => void spinner.stop(),
    };
  }

  /** A progress bar drawn on a spinner line: `Publishing  37/120 [#####.....]`. */
  async progress(label: string, total: number): Promise<Progress> {
    const spinner = await this.spinner(label);
    let done = 0;
    const draw = () => {
      const width = 20;
      const filled = total === 0 ? width : Math.round((done / total) * width);
      spinner.update(
        `${label} ${done}/${total} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`,
      );
    };
    draw();
    return {
      tick: (n = 1) => {
        done += n;
        draw();
      },
      finish: (text, ok = true) => (ok ? spinner.succeed(text) : spinner.fail(text)),
    };
  }

  table(columns: string[], rows: Cell[][]): string {
    return renderTable(columns, rows);
  }
}

export interface Progress {
  tick(n?: number): void;
  finish(text: string, ok?: boolean): void;
}

export interface Styles {
  /** What the command acts on: a date, a phase, a processor. */
  target: (text: string) => string;
  /** Something that overrides a guard or cannot be undone. */
  danger: (text: string) => string;
  ok: (text: string) => string;
  warn: (text: string) => string;
  fail: (text: string) => string;
  dim: (text: string) => string;
  bold: (text: string) => string;
}

function styles(chalk: ChalkInstance): Styles {
  return {
    target: (t) => chalk.cyan(t),
    danger: (t) => chalk.red.bold(t),
    ok: (t) => chalk.green(t),
    warn: (t) => chalk.yellow(t),
    fail: (t) => chalk.red(t),
    dim: (t) => chalk.dim(t),
    bold: (t) => chalk.bold(t),
  };
}

export function renderTable(columns: string[], rows: Cell[][]): string {
  const text = (cell: Cell) => (cell === null || cell === undefined ? '-' : String(cell));
  const cells = rows.map((row) => columns.map((_, i) => text(row[i])));
  const widths = columns.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => visibleLength(row[i]!))),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

function visibleLength(text: string): number {
  return stripVTControlCharacters(text).length;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}

/** Dates as ISO strings and NaN as the string "NaN", so JSON output stays valid and honest. */
export function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Date) return raw.toISOString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return Number(value);
  return value;
}
