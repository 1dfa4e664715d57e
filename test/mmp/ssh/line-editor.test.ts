import { describe, expect, it } from 'vitest';
import { LineEditor, type EditorEvent } from '../../../src/mmp/ssh/line-editor.js';

/** Feeds input until it is used up, collecting the screen output and the events. */
function type(editor: LineEditor, input: string): { output: string; events: EditorEvent[] } {
  let output = '';
  const events: EditorEvent[] = [];
  let rest = input;
  do {
    const r = editor.feed(rest);
    output += r.output;
    if (r.event) events.push(r.event);
    rest = r.rest;
  } while (rest !== '');
  return { output, events };
}

const UP = '\x1b[A';
const DOWN = '\x1b[B';
const LEFT = '\x1b[D';
const RIGHT = '\x1b[C';

describe('line editor', () => {
  it('echoes printable characters and ends the line on Enter (CR, LF or CR LF)', () => {
    const e = new LineEditor();
    expect(e.start('cb1> ')).toBe('cb1> ');
    expect(type(e, 'pki list\r')).toEqual({ output: 'pki list\r\n', events: [{ type: 'line', text: 'pki list' }] });
    e.start('cb1> ');
    expect(type(e, 'a\r\nb\n').events).toEqual([{ type: 'line', text: 'a' }, { type: 'line', text: 'b' }]);
  });

  it('stops at the event and returns the rest, so type-ahead waits for the command', () => {
    const e = new LineEditor();
    e.start('> ');
    const r = e.feed('one\rtwo\r');
    expect(r.event).toEqual({ type: 'line', text: 'one' });
    expect(r.rest).toBe('two\r');
  });

  it('backspace (DEL or BS) erases the last character on screen and in the line', () => {
    const e = new LineEditor();
    e.start('> ');
    const r = type(e, 'abx\x7f\bc\r');
    expect(r.output).toBe('abx\b \b\b \bc\r\n');
    expect(r.events).toEqual([{ type: 'line', text: 'ac' }]);
  });

  it('Ctrl-C drops the line; Ctrl-D on an empty line is end of input; Ctrl-D elsewhere deletes', () => {
    const e = new LineEditor();
    e.start('> ');
    expect(type(e, 'abc\x03')).toEqual({ output: 'abc^C\r\n', events: [{ type: 'cancel' }] });
    e.start('> ');
    expect(type(e, '\x04').events).toEqual([{ type: 'eof' }]);
    e.start('> ');
    expect(type(e, `ab${LEFT}\x04\r`).events).toEqual([{ type: 'line', text: 'a' }]);
  });

  it('Ctrl-U clears to the start, Ctrl-K to the end, Ctrl-W a word', () => {
    const e = new LineEditor();
    e.start('> ');
    expect(type(e, 'garbage\x15pki list\r').events).toEqual([{ type: 'line', text: 'pki list' }]);
    e.start('> ');
    expect(type(e, `pki listxx${LEFT}${LEFT}\x0b\r`).events).toEqual([{ type: 'line', text: 'pki list' }]);
    e.start('> ');
    expect(type(e, 'pki list extra \x17\r').events).toEqual([{ type: 'line', text: 'pki list ' }]);
  });

  it('left/right arrows, Home/End and Delete edit in the middle of the line', () => {
    const e = new LineEditor();
    e.start('> ');
    const r = type(e, `pki lst${LEFT}${LEFT}i${RIGHT}${RIGHT}\r`);
    expect(r.events).toEqual([{ type: 'line', text: 'pki list' }]);
    // An insertion away from the end redraws the line and puts the cursor back.
    expect(r.output).toContain('\r> pki list\x1b[0K\r\x1b[8C');
    e.start('> ');
    expect(type(e, `xpki list\x1b[H\x1b[3~\x1b[F!\r`).events).toEqual([{ type: 'line', text: 'pki list!' }]);
    e.start('> ');
    expect(type(e, `bc\x01a\x05d\r`).events).toEqual([{ type: 'line', text: 'abcd' }]);
  });

  it('understands SS3 arrows (application cursor mode) and escape sequences split across reads', () => {
    const e = new LineEditor();
    e.start('> ');
    expect(type(e, 'ac\x1bOD').events).toEqual([]);
    type(e, 'b\x1b');
    type(e, '[');
    expect(type(e, 'C\r').events).toEqual([{ type: 'line', text: 'abc' }]);
  });

  it('up and down arrows walk the history and come back to the draft', () => {
    const e = new LineEditor();
    for (const line of ['pki list', 'help', 'help']) {
      e.start('> ');
      type(e, line + '\r');
    }
    expect(e.historyEntries).toEqual(['pki list', 'help']);
    e.start('> ');
    type(e, 'draft');
    expect(type(e, `${UP}${UP}\r`).events).toEqual([{ type: 'line', text: 'pki list' }]);
    e.start('> ');
    type(e, 'draft');
    expect(type(e, `${UP}${DOWN}\r`).events).toEqual([{ type: 'line', text: 'draft' }]);
  });

  it('with echo off shows nothing typed, keeps no history and ignores arrows', () => {
    const e = new LineEditor();
    e.start('', { echo: false, history: false });
    const r = type(e, `s3cr${UP}${LEFT}x\x7fet\r`);
    expect(r.output).toBe('\r\n');
    expect(r.events).toEqual([{ type: 'line', text: 's3cret' }]);
    expect(e.historyEntries).toEqual([]);
    e.start('', { echo: false, history: false });
    expect(type(e, 'abc\x03')).toEqual({ output: '^C\r\n', events: [{ type: 'cancel' }] });
  });

  it('scrolls a line wider than the terminal sideways and keeps the cursor on screen', () => {
    const e = new LineEditor({ columns: 20 });
    e.start('cb1> ');
    const r = type(e, 'pki csr abhiall CN:tptac9.com');
    // The last redraw shows the tail of the line: 14 columns of room after the 5-column prompt.
    const last = r.output.slice(r.output.lastIndexOf('\rcb1> '));
    expect(last).toBe('\rcb1> CN:tptac9.com\x1b[0K\r\x1b[18C');
    // Home brings the start of the line back into view.
    expect(type(e, '\x01').output).toBe('\rcb1> pki csr abhial\x1b[0K\r\x1b[5C');
    expect(type(e, '\r').events).toEqual([{ type: 'line', text: 'pki csr abhiall CN:tptac9.com' }]);
  });

  it('ignores other control characters and bounds the line length', () => {
    const e = new LineEditor();
    e.start('> ');
    expect(type(e, 'a\x07\x1b[200~b\r').events).toEqual([{ type: 'line', text: 'ab' }]);
    e.start('> ');
    const long = type(e, 'x'.repeat(5000));
    expect(long.output).toContain('\x07');
    expect((type(e, '\r').events[0] as { text: string }).text).toHaveLength(4096);
  });
});
