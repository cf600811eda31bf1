// @ts-check
// flyctl's non-interactive status logger (internal/statuslogger): "<glyph> [i/n] <text>" with
// glyph ">" running, "✔" success, "✖" failure; the [i/n] index only when there are several lines.

const GLYPHS = { none: ' ', running: '>', success: '✔', failure: '✖' };

/** @typedef {keyof typeof GLYPHS} LineStatus */
/** @typedef {ReturnType<ReturnType<typeof createStatusLines>['line']>} StatusLine */

/**
 * @param {(text: string) => void} write
 * @param {number} total
 */
export function createStatusLines(write, total) {
  const width = String(total).length;
  return {
    /** @param {number} index */
    line(index) {
      const prefix = total > 1 ? `[${String(index + 1).padStart(width, '0')}/${total}] ` : '';
      /** @type {LineStatus} */
      let current = 'none';
      return {
        /** Logs with a new status. @param {LineStatus} status @param {string} text */
        log(status, text) {
          current = status;
          write(`${GLYPHS[status]} ${prefix}${text}\n`);
        },
        /** Logs keeping the line's status, like statuslogger's Logf. @param {string} text */
        note(text) {
          write(`${GLYPHS[current]} ${prefix}${text}\n`);
        },
      };
    },
  };
}

/**
 * How flyctl names a machine in progress lines: its id and process group.
 * @param {string} machineId
 */
export function formattedMachineId(machineId) {
  return `${machineId} [app]`;
}
