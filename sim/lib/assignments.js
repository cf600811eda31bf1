// @ts-check
// NAME=VALUE arguments (secrets set, deploy -e).

/**
 * @param {string} text
 * @returns {[string, string] | null} null when there is no name before "="
 */
export function splitAssignment(text) {
  const eq = text.indexOf('=');
  return eq > 0 ? [text.slice(0, eq), text.slice(eq + 1)] : null;
}
