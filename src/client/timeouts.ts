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
import type { TimeoutProto } from '../cttimeout/requests.js';
import type { Transport } from './transport.js';

type M = NfnlMessage<TimeoutMessage>;

/**
 * The cttimeout codec, loaded on the first request: a ConntrackClient creates no
 * TimeoutClient until asked, but the CLI's start-up (issue 14) should not even evaluate
 * the subsystem for a dump.
 */
let cttimeout: Promise<{ requests: typeof import('../cttimeout/requests.js'); registry: typeof import('../cttimeout/subsystem.js')['CTTIMEOUT_REGISTRY'] }> | undefined;
function loadCttimeout(): NonNullable<typeof cttimeout> {
  return (cttimeout ??= Promise.all([import('../cttimeout/requests.js'), import('../cttimeout/subsystem.js')]).then(([requests, sub]) => ({ requests, registry: sub.CTTIMEOUT_REGISTRY })));
}

function policies(replies: M[]): CtTimeout[] {
  const out: CtTimeout[] = [];
  for (const m of replies) if (m.kind === 'timeout') out.push(m.timeout);
  return out;
}

export class TimeoutClient {
  private readonly channel: Promise<NetlinkRequestChannel<M>>;

  constructor(transport: Transport) {
    this.channel = loadCttimeout().then(({ registry }) => {
      const ch = new NetlinkRequestChannel<M>(transport, {
        decodeAt: (r, off, len) => decodeNfnlMessageAt(registry, r, off, len),
        encode: (m) => encodeNfnlMessages([m], undefined, registry),
      });
      ch.unrefWhenIdle();
      return ch;
    });
  }

  private async request(build: (r: typeof import('../cttimeout/requests.js')) => M, op: string): Promise<M[]> {
    const { requests } = await loadCttimeout();
    return (await this.channel).request(build(requests), op);
  }

  /** The network namespace's default timeouts of a protocol, by state name. */
  async defaultGet(p: TimeoutProto): Promise<TimeoutPolicy> {
    const [t] = policies(await this.request((r) => r.timeoutDefaultGetRequest(p), 'timeout default-get'));
    if (t?.policy === undefined) throw new NetlinkEncodeError(`no default timeouts for l3proto ${p.l3proto} l4proto ${p.l4proto} in the reply`);
    return t.policy;
  }

  /** Change some of the network namespace's default timeouts of a protocol. */
  async defaultSet(p: TimeoutProto & { policy: TimeoutPolicy }): Promise<void> {
    await this.request((r) => r.timeoutDefaultSetRequest(p), 'timeout default-set');
  }

  /** Create (or update, unless `exclusive`) a named policy. */
  async add(p: TimeoutProto & { name: string; policy: TimeoutPolicy; exclusive?: boolean }): Promise<void> {
    await this.request((r) => r.timeoutNewRequest(p), 'timeout add');
  }

  /** One named policy (NetlinkError ENOENT when there is none). */
  async get(name: string): Promise<CtTimeout> {
    const [t] = policies(await this.request((r) => r.timeoutGetRequest(name), 'timeout get'));
    if (t === undefined) throw new NetlinkEncodeError(`no policy in the reply to get '${name}'`);
    return t;
  }

  /** Every named policy. */
  async list(): Promise<CtTimeout[]> {
    const { requests } = await loadCttimeout();
    const out: CtTimeout[] = [];
    for await (const batch of (await this.channel).dump(requests.timeoutGetRequest(), 'timeout list')) out.push(...policies(batch));
    return out;
  }

  /** Delete a named policy; without a name, every unused one. */
  async delete(name?: string): Promise<void> {
    await this.request((r) => r.timeoutDeleteRequest(name), 'timeout delete');
  }

  close(): void {
    void this.channel.then((ch) => ch.close());
  }
}
