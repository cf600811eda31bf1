// @ts-check
// Command-line markers of the simulator's own processes: they let teardown find every process of
// a state directory (even one the state lost track of) and never signal anyone else's.

/** @param {string} dir */
export const dirMarker = (dir) => `--fly-sim-dir=${dir}`;
/** @param {string} machineId */
export const machineMarker = (machineId) => `--fly-sim-machine=${machineId}`;
/** @param {string} appName */
export const routerMarker = (appName) => `--fly-sim-router=${appName}`;
export const proxyMarker = '--fly-sim-proxy';
