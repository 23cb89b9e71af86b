import { splitArguments, splitText } from './scripted-turns';

describe('splitArguments', () => {
  const args = '{"code": "print(\\"caf\\u00e9\\")\\nx = 1"}';

  it('keeps every character, in pieces of at most five', () => {
    const pieces = splitArguments(args);
    expect(pieces.join('')).toBe(args);
    expect(pieces.every((p) => p.length >= 1 && p.length <= 5)).toBe(true);
  });

  it('cuts right after every backslash, so each escape arrives in two halves', () => {
    const pieces = splitArguments(args);
    const backslashes = args.split('\\').length - 1;
    expect(pieces.filter((p) => p.endsWith('\\'))).toHaveLength(backslashes);
    expect(pieces.every((p) => !p.slice(0, -1).includes('\\'))).toBe(true);
  });
});

describe('splitText', () => {
  it('never splits a surrogate pair', () => {
    const pieces = splitText('a😀b😀c😀d😀', [1, 2]);
    expect(pieces.join('')).toBe('a😀b😀c😀d😀');
    expect(pieces.every((p) => !/[\ud800-\udbff]$/.test(p))).toBe(true);
  });
});
