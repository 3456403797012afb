/**
 * The pure-TypeScript kernel set: one file per native kernel file, assembled
 * into the Kernels contract of ../types.ts. Used when the native addon is unavailable or when
 * METATASK_BACKEND=js, and as the reference side of the parity suite.
 */
import type { Kernels } from '../types.js';
import { cdCoefficients, cdCorrelations, cdDesign, cdDesignCorrelations, cdGatherColumns, cdGramColumns, cdResidual, cdResidualColumns, cdResidualCorrelations, cdTargets, mtenetBlockGram, mtenetGramSweep, mtenetSweep } from './cd.js';
import { cdGramCorrelations } from './cdgram.js';
import { cdDualNorms, cdFlaggedFeatures, cdFlagPositive, cdScreen, cdSetCorrelations, cdSetRows, cdStaleFeatures, cdWorkingSet } from './cdscreen.js';
import { mtenetGramSolve, mtenetResidualSolve } from './cdsolve.js';
import { choleskySolve, gatherBlock, gatherRows, gemm, gram, setBlock, svd, symEig, transpose } from './linalg.js';
import { network } from './network.js';
import { adamStep, rmspropStep, sgdStep } from './optim.js';
import { groupSoftThreshold, svt } from './prox.js';
import { fillMask } from './random.js';
import { taskLoss } from './taskloss.js';

export const jsKernels: Kernels = {
  name: 'js',
  gemm,
  gram,
  transpose,
  gatherRows,
  setBlock,
  gatherBlock,
  choleskySolve,
  symEig,
  svd,
  groupSoftThreshold,
  svt,
  mtenetSweep,
  mtenetBlockGram,
  mtenetGramSweep,
  cdDesign,
  cdDesignCorrelations,
  cdCorrelations,
  cdGatherColumns,
  cdTargets,
  cdCoefficients,
  cdResidual,
  cdGramColumns,
  cdResidualColumns,
  cdResidualCorrelations,
  cdGramCorrelations,
  mtenetGramSolve,
  mtenetResidualSolve,
  cdDualNorms,
  cdScreen,
  cdStaleFeatures,
  cdFlaggedFeatures,
  cdFlagPositive,
  cdWorkingSet,
  cdSetRows,
  cdSetCorrelations,
  taskLoss,
  network,
  adamStep,
  sgdStep,
  rmspropStep,
  fillMask,
};
