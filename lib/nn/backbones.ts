/**
 * Named backbones written as network specs. One for now: conv-4, the embedding network of the
 * few-shot literature (Vinyals et al. 2016, Snell et al. 2017, Finn et al. 2017): `blocks` blocks of
 *     3 x 3 convolution (`filters` channels, padding 1), batch normalisation, ReLU, 2 x 2 max-pool,
 * then the flattened feature map, then (with outputSize) one dense layer. On 1 x 28 x 28 Omniglot
 * images the four blocks leave 64 x 1 x 1 = 64 features; on 3 x 84 x 84 miniImageNet images
 * 64 x 5 x 5 = 1600.
 *
 * `downsample: 'stride'` is Finn et al.'s Omniglot form: each block's convolution moves by 2 pixels
 * instead of a max-pool halving its output (ceil(h / 2) rows), and the last feature map is averaged
 * over its positions, so the features are `filters` wide on any image size. Its convolutions compute
 * a quarter of the outputs, so a step costs far less than the max-pool form's.
 *
 * Batch normalisation uses the statistics of the batch it sees: in meta-learning, each support or
 * query set is normalised by its own statistics (the transductive setting of Finn et al. 2017 that
 * the published conv-4 figures use). Models that keep running statistics pass them to the kernels
 * instead (NetworkBatch.stats).
 */
import { ConfigError } from '../core/errors.js';
import { describe } from '../core/matrix.js';
import type { LossName, NetworkSpec, NodeSpec } from '../kernels/types.js';

/** The conv-4 backbone. */
export interface Conv4Config {
  type: 'conv4';
  /** [channels, height, width] of the input images (rows of X are NCHW, C x H x W columns). */
  inputShape: readonly [number, number, number];
  /** Filters of every convolution (default 64). */
  filters?: number;
  /** Blocks of conv-batchnorm-relu-maxpool (default 4). */
  blocks?: number;
  /** Width of a dense layer on the features (a classifier's logits); none by default. */
  outputSize?: number;
  /**
   * How each block halves the image: 'maxpool' (default), a 2 x 2 max-pool after the ReLU;
   * 'stride', the convolution moves by 2, and the last map is averaged over its positions.
   */
  downsample?: Conv4Downsample;
}

export type Conv4Downsample = 'maxpool' | 'stride';

export const CONV4_KEYS = ['type', 'inputShape', 'filters', 'blocks', 'outputSize', 'downsample'] as const;
const DOWNSAMPLES: readonly Conv4Downsample[] = ['maxpool', 'stride'];

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** Whether a `network` option names a backbone (an object with a `type`). */
export function isBackbone(network: unknown): network is Conv4Config {
  return network !== null && typeof network === 'object' && 'type' in network;
}

/** Check a conv-4 config (owner names the model in messages); returns it with defaults filled. */
export function checkConv4(owner: string, config: unknown): Required<Omit<Conv4Config, 'outputSize'>> & { outputSize?: number } {
  const c = config as Partial<Conv4Config>;
  if (c.type !== 'conv4') throw new ConfigError(`${owner}: unknown network type ${describe(c.type)}; known: 'conv4'`);
  for (const k of Object.keys(c)) {
    if (!(CONV4_KEYS as readonly string[]).includes(k)) throw new ConfigError(`${owner}: unknown conv4 option '${k}'; known: ${CONV4_KEYS.join(', ')}`);
  }
  const sh = c.inputShape;
  if (!Array.isArray(sh) || sh.length !== 3 || !sh.every(isPosInt)) {
    throw new ConfigError(`${owner}: network.inputShape must be [channels, height, width] of positive integers (e.g. [1, 28, 28]), got ${describe(sh)}`);
  }
  const filters = c.filters ?? 64;
  const blocks = c.blocks ?? 4;
  if (!isPosInt(filters)) throw new ConfigError(`${owner}: network.filters must be a positive integer, got ${describe(c.filters)}`);
  if (!isPosInt(blocks)) throw new ConfigError(`${owner}: network.blocks must be a positive integer, got ${describe(c.blocks)}`);
  if (c.outputSize !== undefined && !isPosInt(c.outputSize)) throw new ConfigError(`${owner}: network.outputSize must be a positive integer, got ${describe(c.outputSize)}`);
  const downsample = c.downsample ?? 'maxpool';
  if (!DOWNSAMPLES.includes(downsample)) throw new ConfigError(`${owner}: network.downsample must be ${DOWNSAMPLES.map((d) => `'${d}'`).join(' or ')}, got ${describe(c.downsample)}`);
  // A stride-2 convolution with padding 1 maps any side to ceil(side / 2) >= 1; a 2 x 2 max-pool needs 2.
  if (downsample === 'maxpool') {
    let [, h, w] = sh;
    for (let b = 0; b < blocks; b++) {
      if (h < 2 || w < 2) {
        throw new ConfigError(`${owner}: ${sh.join(' x ')} images are too small for ${blocks} conv4 blocks (each halves the height and width); use fewer blocks or larger images`);
      }
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
  }
  const out = { type: 'conv4' as const, inputShape: [sh[0]!, sh[1]!, sh[2]!] as const, filters, blocks, downsample };
  return c.outputSize === undefined ? out : { ...out, outputSize: c.outputSize };
}

/**
 * The conv-4 nodes: input, the blocks, flatten, and the dense layer when outputSize is given.
 * The last node is the output (features or logits).
 */
export function conv4Nodes(owner: string, config: Conv4Config): NodeSpec[] {
  const c = checkConv4(owner, config);
  const [C, H, W] = c.inputShape;
  const nodes: NodeSpec[] = [{ op: 'input', size: C * H * W, shape: [C, H, W] }];
  const last = (): number => nodes.length - 1;
  const strided = c.downsample === 'stride';
  for (let b = 0; b < c.blocks; b++) {
    nodes.push({ op: 'conv2d', input: last(), filters: c.filters, kernel: 3, padding: 1, ...(strided && { stride: 2 }) });
    nodes.push({ op: 'batchnorm', input: last() });
    nodes.push({ op: 'activation', input: last(), fn: 'relu' });
    if (!strided) nodes.push({ op: 'maxpool2d', input: last(), size: 2 });
  }
  if (strided) nodes.push({ op: 'avgpool2d', input: last(), size: 'global' });
  nodes.push({ op: 'flatten', input: last() });
  if (c.outputSize !== undefined) nodes.push({ op: 'dense', input: last(), units: c.outputSize });
  return nodes;
}

/** Width of the conv-4 output: outputSize, else filters x the last feature map's height x width. */
export function conv4Width(owner: string, config: Conv4Config): number {
  const c = checkConv4(owner, config);
  if (c.outputSize !== undefined) return c.outputSize;
  if (c.downsample === 'stride') return c.filters;
  let [, h, w] = c.inputShape;
  for (let b = 0; b < c.blocks; b++) [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
  return c.filters * h * w;
}

/** A one-head spec of the conv-4 backbone with the given head loss on its output. */
export function conv4Spec(owner: string, config: Conv4Config, loss: LossName): NetworkSpec {
  const nodes = conv4Nodes(owner, config);
  return { nodes, heads: [{ node: nodes.length - 1, loss, target: 0 }] };
}
