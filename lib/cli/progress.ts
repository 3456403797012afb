/**
 * Progress of a long fit on stderr, in the form that suits where stderr goes:
 * - 'bar' (a terminal): one line redrawn in place, at most 10 times a second,
 *     fit  [##########----------]  52/100 epochs  loss 0.4123  3.1 s
 *   or, when the number of steps is not known in advance, the step count alone;
 * - 'lines' (a file or a pipe, e.g. a CI log): a plain line at each tenth of the way and at
 *   most one every 2 seconds, so a log stays short and readable;
 * - 'none': nothing.
 * It reads the one progress record every model passes to onProgress ({ phase, step, total?, loss? }).
 */
import type { Progress } from '../core/estimator.js';
import { formatNumber } from '../plot/scale.js';
import type { CliIo } from './command.js';

export type ProgressMode = 'bar' | 'lines' | 'none';

/** 'bar' on a terminal, 'lines' elsewhere. */
export function defaultProgressMode(io: CliIo): ProgressMode {
  return io.stderr.isTTY ? 'bar' : 'lines';
}

const BAR = 24;

export class ProgressReporter {
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastPhase: string | undefined;
  private lastFraction = -1;
  private drawn = false;
  /** The last record, and whether it was shown (finish shows it when not). */
  private last: Progress | undefined;
  private shown = false;

  /** `unit` names the steps of the fit phase ('epochs', 'iterations', 'sweeps'). */
  constructor(
    private readonly io: CliIo,
    private readonly mode: ProgressMode,
    private readonly unit: string,
  ) {}

  /** The onProgress callback. */
  readonly update = (p: Progress): void => {
    if (this.mode === 'none') return;
    this.last = p;
    this.shown = false;
    const now = Date.now();
    const phaseChanged = p.phase !== this.lastPhase;
    const last = p.total !== undefined && p.step >= p.total;
    if (this.mode === 'bar') {
      if (phaseChanged && this.drawn) this.io.stderr.write('\n');
      if (!phaseChanged && !last && now - this.lastDraw < 100) return;
      this.draw(p);
    } else {
      const fraction = p.total ? Math.floor((10 * p.step) / p.total) : -1;
      const due = phaseChanged || last || (fraction > this.lastFraction && now - this.lastDraw >= 2000) || (fraction < 0 && now - this.lastDraw >= 2000);
      if (!due) return;
      this.lastFraction = fraction;
      this.io.stderr.write(`${this.describe(p, false)}\n`);
    }
    this.lastPhase = p.phase;
    this.lastDraw = now;
    this.shown = true;
  };

  /** Show the last record if it was skipped (a fit that converged before its step cap), and end the bar's line. */
  finish(): void {
    if (this.last && !this.shown) {
      if (this.mode === 'bar') this.draw(this.last);
      else if (this.mode === 'lines') this.io.stderr.write(`${this.describe(this.last, false)}\n`);
    }
    if (this.mode === 'bar' && this.drawn) this.io.stderr.write('\n');
    this.drawn = false;
    this.last = undefined;
  }

  private draw(p: Progress): void {
    // Cut to the terminal's width so the line never wraps (a pty may report 0 columns: then no cut).
    const cols = this.io.stderr.columns || Infinity;
    this.io.stderr.write(`\r${this.describe(p, true).slice(0, cols - 1)}\x1b[K`);
    this.drawn = true;
  }

  private describe(p: Progress, bar: boolean): string {
    const phase = p.phase === 'cv' ? 'cv ' : 'fit';
    const unit = p.phase === 'cv' ? 'fits' : this.unit;
    const seconds = `${((Date.now() - this.started) / 1000).toFixed(1)} s`;
    const loss = p.loss !== undefined && Number.isFinite(p.loss) ? `  loss ${formatNumber(p.loss)}` : '';
    if (p.total === undefined) return `${phase}  ${unit} ${p.step}${loss}  ${seconds}`;
    const count = `${p.step}/${p.total} ${unit}`;
    if (!bar) return `${phase}  ${count}${loss}  ${seconds}`;
    const filled = Math.max(0, Math.min(BAR, Math.round((BAR * p.step) / p.total)));
    return `${phase}  [${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}]  ${count}${loss}  ${seconds}`;
  }
}
