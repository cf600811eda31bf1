// @ts-check
// The flyctl release whose behaviour the simulator follows (superfly/flyctl ad0172f, after v0.4.87).
export const SIMULATED_FLYCTL_VERSION = '0.4.87';
