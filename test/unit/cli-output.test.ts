// Progress and tables: live in a terminal, one plain line per change elsewhere; colour only for terminals that
// want it (NO_COLOR).
import { describe, expect, it } from 'vitest';
import { colorEnabled, createProgress, createStyle, renderTable, styleState } from '../../src/cli/output';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 40, write: (t: string) => chunks.push(t) } };
}

describe('output', () => {
  it('prints one plain line per change when not a terminal', () => {
    const { chunks, stream } = sink(false);
    const p = createProgress(stream);
    p.update('provision');
    p.update('provision');
    p.update('commit');
    p.log('a note');
    p.done();
    expect(chunks.join('')).toBe('provision\ncommit\na note\n');
  });

  it('rewrites one line in a terminal, keeps logged lines above it, and clips to the width', () => {
    const { chunks, stream } = sink(true);
    const p = createProgress(stream);
    p.update('provision');
    p.update('commit');
    p.log('a note');
    p.update('x'.repeat(60));
    p.done();
    const text = chunks.join('');
    expect(text).toBe(`provision\r\x1b[2Kcommit\r\x1b[2Ka note\ncommit\r\x1b[2K${'x'.repeat(38)}…\n`);
  });

  it('colours only a TTY without NO_COLOR and a dumb TERM', () => {
    expect(colorEnabled({ isTTY: true, write() {} }, {})).toBe(true);
    expect(colorEnabled({ isTTY: true, write() {} }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true, write() {} }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ isTTY: true, write() {} }, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled({ isTTY: false, write() {} }, {})).toBe(false);
    expect(styleState(createStyle(false), 'failed')).toBe('failed');
    expect(styleState(createStyle(true), 'failed')).toBe('\x1b[31mfailed\x1b[39m');
  });

  it('aligns table columns by visible width, colour codes included', () => {
    const style = createStyle(true);
    const lines = renderTable(
      [
        ['deploy-a', style.ok('done')],
        ['deploy-longer', 'failed'],
      ],
      ['WORKFLOW', 'PHASE'],
    );
    expect(lines.map((l) => l.replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g'), ''))).toEqual([
      'WORKFLOW       PHASE',
      'deploy-a       done',
      'deploy-longer  failed',
    ]);
  });
});
