/** Types of tshark.mjs, for the TypeScript tests that import it. */
export interface ReducedMessage {
  hdr: { len?: string; type?: string; flags?: string; seq?: string; pid?: string };
  nfgen?: { subsys?: string; family?: string; version?: string; resId?: string };
  error?: string;
  echo?: { len?: string; type?: string; flags?: string; seq?: string; pid?: string };
  fields?: Record<string, string | string[]>;
}
export interface ReducedFrame {
  frame: number;
  protocols: string;
  expert?: unknown[];
  messages: ReducedMessage[];
}
export function reduceTshark(frames: unknown[]): ReducedFrame[];
export function tsharkJsonArgs(pcapPath: string): string[];
