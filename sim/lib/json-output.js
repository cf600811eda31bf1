// @ts-check
// JSON exactly as Go's encoding/json Encoder writes it: render.JSON indents with four spaces and
// ends with a newline; HTML-significant characters are escaped as Go does by default.

/** @param {string} text */
function escapeLikeGo(text) {
  return text
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** render.JSON: four-space indent and a trailing newline. @param {unknown} value */
export function renderJson(value) {
  return `${escapeLikeGo(JSON.stringify(value, null, 4))}\n`;
}

/** json.NewEncoder(w).Encode without indent: one line. @param {unknown} value */
export function renderJsonLine(value) {
  return `${escapeLikeGo(JSON.stringify(value))}\n`;
}

/** json.Marshal (no newline, as with fmt.Fprintf("%s\n", data) the caller adds it). @param {unknown} value */
export function marshalJson(value) {
  return escapeLikeGo(JSON.stringify(value));
}
