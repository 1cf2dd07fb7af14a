export { ConntrackClient, DEFAULT_EVENT_BUFFER, type ConntrackOptions, type EventsOptions, type DumpOptions, type EntryRecord, type ExpectRecord } from './client.js';
export { Subscription, type EventItem, type ConntrackEvent, type ExpectEvent, type OverrunMarker, type DecodeFailure, type SubscriptionOptions } from './events.js';
export { RequestChannel, ClosedError } from './requests.js';
export type { Transport, TransportFactory, TransportOptions, ReceiveItem, ReceivedDatagram, OverrunItem } from './transport.js';
export { deleteMany, deleteWhere, DeletePipeline, EmptyFilterError, keyOf, flushCanExpress, compileDeleteFilter, kernelAtLeast, type DeleteCounts, type DeleteFilter, type DeleteManyOptions, type DeleteWhereOptions, type DeleteWhereResult, type EvictHost } from './evict.js';
export { readConntrackSysctls, writeConntrackSysctls, idleSeconds, configuredTimeout as sysctlTimeoutOf, timeoutSysctlOf, type ConntrackSysctls } from './sysctls.js';
export { writeDeleteCompact, writeDeleteFields, type DeleteFields } from './delete-compact.js';
