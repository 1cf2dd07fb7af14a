/**
 * The nfnetlink subsystem registry: what the nfnetlink codec (codec.ts) dispatches to.
 *
 *   nlmsg_type = (subsystem << 8) | message type      (NFNL_SUBSYS_*, e.g. 1 CTNETLINK)
 *   nlmsghdr (16) | nfgenmsg (4) | attributes ...
 *
 * A subsystem says which of its message types it knows, decodes the attributes after
 * nfgenmsg into its own message kinds, encodes those kinds back, names its message types,
 * and classifies its messages (the event type a kernel notification carries). Message
 * types nobody registered, in any subsystem, are kept raw ('other') and re-encoded byte for
 * byte. Adding a subsystem is a folder with a NfnlSubsystem and one register() call; this
 * layer imports none of them.
 */
import type { Builder } from '../netlink/builder.js';
import type { NlMsgHeader } from '../netlink/message.js';
import type { Reader } from '../netlink/reader.js';
import type { NfGenMsg } from './header.js';

/** Fields every subsystem message has. */
export interface NfnlMessageBase {
  kind: string;
  header: NlMsgHeader;
  nfgen: NfGenMsg;
}

export interface NfnlSubsystem<M extends NfnlMessageBase = NfnlMessageBase> {
  /** NFNL_SUBSYS_* */
  readonly id: number;
  /** Kernel name of the subsystem ("ctnetlink"). */
  readonly name: string;
  /** The message kinds this subsystem decodes to and encodes from. */
  readonly kinds: readonly M['kind'][];
  /** Whether message type `msg` (the low byte of nlmsg_type) is one this subsystem decodes. */
  knows(msg: number): boolean;
  /** Kernel name of message type `msg` ("IPCTNL_MSG_CT_NEW"), if known. */
  typeName(msg: number): string | undefined;
  /** Decode the attributes [start, end) of a known message. */
  decode(r: Reader, header: NlMsgHeader, nfgen: NfGenMsg, start: number, end: number): M;
  /** Write the attributes of `m` (nlmsghdr and nfgenmsg are already written). */
  encode(b: Builder, m: M): void;
  /**
   * Check every field of a request (a message with NLM_F_REQUEST, or one whose flags are
   * not even a number) of this subsystem's kinds before a byte is written: throws
   * NetlinkEncodeError. The codec calls it for every request it encodes, whoever built it.
   */
  checkRequest?(m: unknown): void;
  /** The event type of a kernel notification ('new', 'update', 'destroy'), else undefined. */
  classify?(m: M): string | undefined;
}

/** Subsystems by id and by message kind. */
export class NfnlRegistry<M extends NfnlMessageBase = NfnlMessageBase> {
  private readonly byId: (NfnlSubsystem<M> | undefined)[] = new Array(256).fill(undefined);
  private readonly byKind = new Map<string, NfnlSubsystem<M>>();

  /** Add a subsystem (replacing one registered under the same id). */
  register<S extends M>(s: NfnlSubsystem<S>): this {
    const sub = s as unknown as NfnlSubsystem<M>;
    this.byId[sub.id & 0xff] = sub;
    for (const k of sub.kinds) this.byKind.set(k, sub);
    return this;
  }

  get(id: number): NfnlSubsystem<M> | undefined {
    return this.byId[id];
  }

  forKind(kind: string): NfnlSubsystem<M> | undefined {
    return this.byKind.get(kind);
  }

  /** Registered subsystems, by id. */
  list(): NfnlSubsystem<M>[] {
    return this.byId.filter((s): s is NfnlSubsystem<M> => s !== undefined);
  }
}

/**
 * The registry every subsystem module adds itself to when imported (ctnetlink,
 * ctnetlink-exp, cttimeout). decodeNfnlDatagram uses it unless given another.
 */
export const nfnlSubsystems = new NfnlRegistry<NfnlMessageBase>();
