/**
 * The text a terminal shows for some output bytes: "\r" returns to the line's start
 * (later characters overwrite), "\x1b[K" erases to the end of the line, "\n" starts a new
 * line; other escape sequences are dropped. Enough to read what a user would see of a
 * line-oriented program.
 */
export function screen(raw: string): string[] {
  const rows: string[] = [''];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    const row = rows.length - 1;
    if (c === '\r') col = 0;
    else if (c === '\n') {
      rows.push('');
      col = 0;
    } else if (c === '\x1b') {
      const m = /^\x1b\[[0-9;?]*([A-Za-z])/.exec(raw.slice(i));
      if (m) {
        if (m[1] === 'K') rows[row] = rows[row]!.slice(0, col);
        i += m[0].length - 1;
      }
    } else {
      const line = rows[row]!.padEnd(col, ' ');
      rows[row] = line.slice(0, col) + c + line.slice(col + 1);
      col++;
    }
  }
  return rows.filter((r) => r.length > 0);
}
