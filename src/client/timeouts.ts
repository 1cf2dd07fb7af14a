/**
 * Timeout policies and default timeouts (cttimeout) through a client: the generic request
 * channel (netlink/request-channel.ts) with the cttimeout codec, on a socket of its own.
 * The guard uses defaultGet/defaultSet to shorten timeouts under pressure.
 *
 *   const tm = ct.timeouts();
 *   const udp = await tm.defaultGet({ l3proto: AF_INET, l4proto: IPPROTO_UDP });  // { unreplied: 30, replied: 120 }
 *   await tm.defaultSet({ l3proto: AF_INET, l4proto: IPPROTO_UDP, policy: { unreplied: 10 } });
 */
import { NetlinkEncodeError } from '../netlink/errors.js';
import { NetlinkRequestChannel } from '../netlink/request-channel.js';
import { type NfnlMessage, decodeNfnlMessageAt, encodeNfnlMessages } from '../nfnetlink/codec.js';
import type { CtTimeout, TimeoutMessage, TimeoutPolicy } from '../cttimeout/model.js';
import {
  type TimeoutProto,
  timeoutDefaultGetRequest,
  timeoutDefaultSetRequest,
  timeoutDeleteRequest,
  timeoutGetRequest,
  timeoutNewRequest,
} from '../cttimeout/requests.js';
import { CTTIMEOUT_REGISTRY } from '../cttimeout/subsystem.js';
import type { Transport } from './transport.js';

type M = NfnlMessage<TimeoutMessage>;

const CODEC = {
  decodeAt: (r: Parameters<typeof decodeNfnlMessageAt>[1], off: number, len: number): M => decodeNfnlMessageAt(CTTIMEOUT_REGISTRY, r, off, len),
  encode: (m: M) => encodeNfnlMessages([m], undefined, CTTIMEOUT_REGISTRY),
};

function policies(replies: M[]): CtTimeout[] {
  const out: CtTimeout[] = [];
  for (const m of replies) if (m.kind === 'timeout') out.push(m.timeout);
  return out;
}

export class TimeoutClient {
  private readonly channel: NetlinkRequestChannel<M>;

  constructor(transport: Transport) {
    this.channel = new NetlinkRequestChannel<M>(transport, CODEC);
    this.channel.unrefWhenIdle();
  }

  /** The network namespace's default timeouts of a protocol, by state name. */
  async defaultGet(p: TimeoutProto): Promise<TimeoutPolicy> {
    const [t] = policies(await this.channel.request(timeoutDefaultGetRequest(p), 'timeout default-get'));
    if (t?.policy === undefined) throw new NetlinkEncodeError(`no default timeouts for l3proto ${p.l3proto} l4proto ${p.l4proto} in the reply`);
    return t.policy;
  }

  /** Change some of the network namespace's default timeouts of a protocol. */
  async defaultSet(p: TimeoutProto & { policy: TimeoutPolicy }): Promise<void> {
    await this.channel.request(timeoutDefaultSetRequest(p), 'timeout default-set');
  }

  /** Create (or update, unless `exclusive`) a named policy. */
  async add(p: TimeoutProto & { name: string; policy: TimeoutPolicy; exclusive?: boolean }): Promise<void> {
    await this.channel.request(timeoutNewRequest(p), 'timeout add');
  }

  /** One named policy (NetlinkError ENOENT when there is none). */
  async get(name: string): Promise<CtTimeout> {
    const [t] = policies(await this.channel.request(timeoutGetRequest(name), 'timeout get'));
    if (t === undefined) throw new NetlinkEncodeError(`no policy in the reply to get '${name}'`);
    return t;
  }

  /** Every named policy. */
  async list(): Promise<CtTimeout[]> {
    const out: CtTimeout[] = [];
    for await (const batch of this.channel.dump(timeoutGetRequest(), 'timeout list')) out.push(...policies(batch));
    return out;
  }

  /** Delete a named policy; without a name, every unused one. */
  async delete(name?: string): Promise<void> {
    await this.channel.request(timeoutDeleteRequest(name), 'timeout delete');
  }

  close(): void {
    this.channel.close();
  }
}
