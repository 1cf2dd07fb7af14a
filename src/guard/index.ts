/** The guard: policy (pure), view (what it sees of the table), and the Guard loop. */
export { Guard, SHORT_TIMEOUTS, defaultStateFile, restoreFromStateFile, type GuardOptions, type GuardRecord, type GuardSummary } from './guard.js';
export { chooseVictims, fairTake, rankForCycles, stepOf, prefixKey, waterQuotas, type GuardEntry, type PolicyOptions, type PolicyStep, type Victim } from './policy.js';
export { SnapshotView, guardEntryOf, type GuardView } from './view.js';
export { TableView, guardEntryOfRow, conntrackOfRow, heavySources, type TableViewOptions } from './table-view.js';
export { chooseVictimsFairFirst } from './fair-first.js';
export { streamEvict, sampleTable, heavyPrefixes, type StreamEvictOptions, type TableSample } from './stream-evict.js';
export { FloodEvictor, VictimRing, inHeavyPrefix, type FloodEvictOptions, type FloodRound } from './flood-evict.js';
export { setProcessNice, type PriorityResult } from './priority.js';
