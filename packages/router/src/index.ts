// @recur/router — per-token depth for recursive transformers: early-exit policies and losses,
// Mixture-of-Recursions expert-/token-choice routers and their losses, KV-cache accounting.
export { stopGradient } from './stopGradient.js';

export {
  exitDepths,
  entropy,
  maxProbability,
  rowProbabilities,
  shouldExit,
  type ExitDepthsOptions,
  type ExitPolicy,
  type RowInput,
} from './earlyExit/exitPolicy.js';
export { exitDepthsTf, rowConfidence } from './earlyExit/exitPolicyTf.js';
export { loopWeights } from './earlyExit/loopWeights.js';
export { perLoopCrossEntropy, type PerLoopLossOptions } from './earlyExit/perLoopCrossEntropy.js';
export { selfDistillationLoss, type SelfDistillationOptions } from './earlyExit/selfDistillation.js';
export { loopLogits } from './earlyExit/loopLogits.js';
export { exitReadouts, exitStates } from './earlyExit/exitReadouts.js';

export { capacityFraction, capacityTokens, type CapacityOptions } from './expert/capacity.js';
export { selectTopK } from './expert/topK.js';
export {
  initScalarRouter,
  routerTensors,
  scalarRouterKeys,
  scalarRouterLogits,
  type RouterArchitecture,
  type ScalarRouterOptions,
} from './expert/routerWeights.js';
export { allTokens, type RoutingDecision } from './expert/routingDecision.js';
export {
  expertRouterPrefix,
  routeExpertChoice,
  type ExpertChoiceOptions,
  type ExpertScoring,
} from './expert/expertChoice.js';
export { routeByThreshold, thresholdDecisions, type ThresholdRoutingOptions } from './expert/thresholdRouting.js';
export {
  calibrateThresholds,
  keepThreshold,
  thresholdsProblem,
  type CalibrationSample,
} from './expert/calibrateThresholds.js';
export { scatterGatedUpdate } from './expert/scatterGatedUpdate.js';
export {
  depthsFromDecisions,
  runExpertChoice,
  type RecursionBlock,
  type RunExpertChoiceOptions,
} from './expert/runExpertChoice.js';
export { routerZLoss, selectionBceLoss, type AuxLossOptions } from './expert/auxLoss.js';
export { routingAgreement, type RoutingAgreement } from './expert/agreement.js';

export {
  activeAtRecursion,
  depthLoads,
  initTokenRouter,
  routeTokenChoice,
  tokenRouterKey,
  balanceBiasKey,
  type TokenChoiceOptions,
  type TokenChoiceRouting,
} from './token/tokenChoice.js';
export { balancingLoss, updateBalancingBias } from './token/balancing.js';

export {
  defaultActivePerDepth,
  kvCacheElements,
  kvEntries,
  kvRatio,
  theoreticalKvRatio,
  type KvStrategy,
} from './kv/kvTheory.js';

export {
  depthForward,
  type DepthForwardOptions,
  type DepthForwardResult,
  type LoopChoice,
  type LoopRouting,
} from './depth/depthForward.js';
export {
  earlyExitRouting,
  expertChoiceRouting,
  tokenChoiceRouting,
  type ExpertRouting,
  type ExpertRoutingOptions,
  type TokenChoiceForm,
  type TokenChoiceRoutingOptions,
  type TokenRouting,
} from './depth/routings.js';
export { describeRouting, routingFor, type DescribeRoutingOptions } from './depth/routingFor.js';
export { expertForcedDepth, tokenForcedDepth } from './depth/forcedDepth.js';
