/**
 * Options shared by the coordinate-descent estimators (MultiTaskElasticNet, MultiTaskLasso and
 * their CV versions): the CV estimators run the same solver, so its settings have one definition
 * (same defaults and checks) here, as does the rule that the lasso variants fix l1Ratio at 1.
 */
import { ConfigError } from '../core/errors.js';
import { bool, num, oneOf, parseOptions, type OptionSpec } from '../core/options.js';

/** The solver settings, in the order both estimators list them among their options. */
export const SOLVER_SPEC = {
  fitIntercept: bool(true),
  tol: num({ default: 1e-4, min: 0 }),
  maxIter: num({ default: 1000, min: 1, integer: true }),
};

/** The feature order of the sweeps. */
export const SELECTION_SPEC = oneOf(['cyclic', 'random'] as const, 'cyclic');

/**
 * Parse the options of a lasso variant: `spec` (the elastic net's) without l1Ratio, which is
 * fixed at 1; passing it is a ConfigError that points to `enetName`, the class that takes it.
 */
export function parseLassoOptions<R extends { l1Ratio: unknown }>(
  name: string,
  options: unknown,
  spec: { l1Ratio: OptionSpec } & Record<string, OptionSpec>,
  enetName: string,
): R {
  if (options !== null && typeof options === 'object' && 'l1Ratio' in options) {
    throw new ConfigError(`${name}: option 'l1Ratio' is fixed at 1 for the lasso; use ${enetName} to choose l1Ratio`);
  }
  const { l1Ratio: _unused, ...rest } = spec;
  const o = parseOptions<Omit<R, 'l1Ratio'>>(name, options, rest as never);
  return { ...o, l1Ratio: 1 } as unknown as R;
}
