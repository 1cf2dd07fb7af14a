/// <reference types="node" />
/**
 * pcap layer: reading classic pcap / pcapng captures (streaming or in memory), extracting
 * netlink datagrams from nlmon frames, and writing nlmon-compatible pcap files. A transport
 * beside the codec: it depends on nothing else in this package.
 */
export { MAX_RECORD_LENGTH, PcapError } from './errors.js';
export {
  PCAP_GLOBAL_HEADER_LENGTH,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_RECORD_HEADER_LENGTH,
} from './classic.js';
export {
  PCAPNG_BLOCK_EPB,
  PCAPNG_BLOCK_IDB,
  PCAPNG_BLOCK_PB,
  PCAPNG_BLOCK_SHB,
  PCAPNG_BLOCK_SPB,
  PCAPNG_BYTE_ORDER_MAGIC,
} from './pcapng.js';
export {
  CaptureParser,
  parseCapture,
  readCapture,
  readCaptureBatches,
  READ_CHUNK_SIZE,
  type CaptureFormat,
  type CaptureRecord,
  type CaptureSource,
} from './reader.js';
export {
  ARPHRD_NETLINK,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_NETLINK,
  netlinkPayload,
  readNetlinkDatagramBatches,
  readNetlinkDatagrams,
  SLL2_HEADER_LENGTH,
  SLL_HEADER_LENGTH,
  type NetlinkDatagramRecord,
  type NetlinkPayload,
  type ReadNetlinkOptions,
} from './linktype.js';
export {
  openPcapFile,
  PCAP_DEFAULT_SNAPLEN,
  PCAP_FILE_BATCH_SIZE,
  PcapWriter,
  type PcapFile,
  type PcapSink,
  type PcapWriterOptions,
} from './writer.js';
export { PCAPNG_BLOCK_SLACK, PCAPNG_META_BOUND, NETLINK_RECORD_BOUND, recordBound } from './bound.js';
export {
  linktypeName,
  MalformedRecord,
  NetlinkItemParser,
  netlinkProtocolName,
  readNetlinkItemBatches,
  type NetlinkItem,
} from './items.js';
export type { CaptureParserOptions } from './reader.js';
