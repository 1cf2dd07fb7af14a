/** The live table mirror: ConntrackTable and what it is built from. */
export {
  ConntrackTable,
  DEFAULT_HISTOGRAM_BOUNDS,
  type TableOptions,
  type TableEntry,
  type TableCounters,
  type ResyncReport,
  type ChangeType,
  type Histogram,
} from './table.js';
export { Aggregates, GROUPINGS, protoName, type Grouping, type GroupKey, type TopItem, type AggregateOptions } from './aggregates.js';
export { RowStore } from './store.js';
export { TopRates, type TopRow } from './rates.js';
export { readTimeouts, readEventsMode, configuredTimeout, DEFAULT_TIMEOUTS, type TimeoutTable } from './timeouts.js';
export { CompactEntry, decodeCompactDatagram } from '../ctnetlink/compact.js';
