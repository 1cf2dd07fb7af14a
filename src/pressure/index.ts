/** Conntrack pressure: samples, analysis (pure) and the sampler. */
export {
  analyze,
  sizing,
  zeroTotals,
  CPU_COUNTERS,
  DEFAULT_OBJECT_SIZE,
  type CpuTotals,
  type MirrorCounters,
  type PressureSample,
  type PressureRates,
  type PressureReport,
  type Diagnosis,
  type DiagnosisCode,
  type Sizing,
  type SizingAdvice,
} from './analyze.js';
export { PressureSampler, parseSlabObjectSize, readSlabObjectSize, readBuckets, sumCpuStats, type SamplerOptions } from './sampler.js';
