// Splits a migration file into statements, the way psql reads a script: a semicolon inside a
// string, a quoted identifier, a dollar-quoted body, a comment or a BEGIN ATOMIC … END function
// body does not end a statement. Pure: no I/O.

export interface SqlSegment {
  /** The raw text up to and including its semicolon; joining every segment gives the script back. */
  text: string;
  /** The first keywords, upper-cased (comments and whitespace skipped): ['CREATE', 'INDEX']. */
  leadingWords: string[];
}

const WORD_START = /[A-Za-z_]/;
const WORD_PART = /[A-Za-z0-9_$]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/;

export function splitSqlSegments(sql: string): SqlSegment[] {
  const segments: SqlSegment[] = [];
  let segmentStart = 0;
  let leadingWords: string[] = [];
  let previousWord = '';
  // Depth of SQL-standard function bodies (BEGIN ATOMIC … END), whose statements end in semicolons.
  let atomicDepth = 0;
  let i = 0;

  const closeSegment = (end: number) => {
    segments.push({ text: sql.slice(segmentStart, end), leadingWords });
    segmentStart = end;
    leadingWords = [];
    previousWord = '';
  };

  while (i < sql.length) {
    const char = sql[i]!;
    const next = sql[i + 1];
    if (char === '-' && next === '-') {
      i = endOfLineComment(sql, i);
    } else if (char === '/' && next === '*') {
      i = endOfBlockComment(sql, i);
    } else if (char === "'") {
      // E'…' strings (the word E right before the quote) take backslash escapes.
      i = endOfQuoted(sql, i, "'", previousWord === 'E' && /[Ee]/.test(sql[i - 1] ?? ''));
      previousWord = '';
    } else if (char === '"') {
      i = endOfQuoted(sql, i, '"', false);
      noteWord('"');
    } else if (char === '$' && DOLLAR_TAG.test(sql.slice(i, i + 64))) {
      i = endOfDollarQuoted(sql, i);
      previousWord = '';
    } else if (WORD_START.test(char)) {
      const start = i;
      while (i < sql.length && WORD_PART.test(sql[i]!)) i++;
      noteWord(sql.slice(start, i).toUpperCase());
    } else if (char === ';' && atomicDepth === 0) {
      i++;
      closeSegment(i);
    } else {
      i++;
    }
  }
  if (segmentStart < sql.length) closeSegment(sql.length);
  return segments;

  function noteWord(word: string): void {
    if (leadingWords.length < 2) leadingWords.push(word);
    if (word === 'ATOMIC' && previousWord === 'BEGIN') atomicDepth++;
    else if (atomicDepth > 0 && word === 'CASE') atomicDepth++;
    else if (atomicDepth > 0 && word === 'END') atomicDepth--;
    previousWord = word;
  }
}

/** The segments that hold a statement (not only whitespace and comments). */
export function sqlStatements(sql: string): SqlSegment[] {
  return splitSqlSegments(sql).filter((segment) => segment.leadingWords.length > 0);
}

/** BEGIN, COMMIT and friends: statements that open or close a transaction. */
export function isTransactionControl(segment: SqlSegment): boolean {
  const [first, second] = segment.leadingWords;
  if (first === 'ROLLBACK') return second !== 'TO';
  return first === 'BEGIN' || first === 'START' || first === 'COMMIT' || first === 'END' || first === 'ABORT';
}

function endOfLineComment(sql: string, start: number): number {
  const newline = sql.indexOf('\n', start);
  return newline === -1 ? sql.length : newline + 1;
}

function endOfBlockComment(sql: string, start: number): number {
  // PostgreSQL block comments nest.
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') { depth++; i += 2; continue; }
    if (sql[i] === '*' && sql[i + 1] === '/') { depth--; i += 2; if (depth === 0) return i; continue; }
    i++;
  }
  return sql.length;
}

function endOfQuoted(sql: string, start: number, quote: string, hasBackslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const char = sql[i]!;
    if (hasBackslashEscapes && char === '\\') { i += 2; continue; }
    if (char === quote) {
      // A doubled quote is an escaped quote, not the end.
      if (sql[i + 1] === quote) { i += 2; continue; }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

function endOfDollarQuoted(sql: string, start: number): number {
  const tag = DOLLAR_TAG.exec(sql.slice(start, start + 64))![0];
  const close = sql.indexOf(tag, start + tag.length);
  return close === -1 ? sql.length : close + tag.length;
}
