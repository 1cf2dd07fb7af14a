/**
 * cttimeout: timeout policies (NFNL_SUBSYS_CTNETLINK_TIMEOUT). Importing this module
 * registers the subsystem in the shared nfnetlink registry.
 */
export * from './constants.js';
export type { CtTimeout, TimeoutMessage, TimeoutPolicy } from './model.js';
export { decodePolicy, encodePolicy, policyAttrName, policyStates } from './policy.js';
export { decodeTimeout, encodeTimeout } from './timeout.js';
export { CTTIMEOUT, CTTIMEOUT_REGISTRY } from './subsystem.js';
export * from './requests.js';
