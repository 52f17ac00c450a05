import { UsageError, didYouMean, parseCommandArgs, parseKeyValues } from './args';
import type { FlagSpecs } from './args';

const SPECS = {
  output: { type: 'string', short: 'o', value: 'table|json', help: '', choices: ['table', 'json'] },
  repo: { type: 'string', short: 'r', value: 'dir', help: '' },
  quiet: { type: 'boolean', short: 'q', help: '' },
  prune: { type: 'boolean', help: '' },
  'no-cache': { type: 'boolean', help: '' },
  views: { type: 'list', value: 'view', help: '' },
} as const satisfies FlagSpecs;

const parse = (...argv: string[]) => parseCommandArgs(argv, SPECS, 'plan');

function usageError(...argv: string[]): UsageError {
  try {
    parse(...argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).command).toBe('plan');
    return error as UsageError;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

describe('parseCommandArgs', () => {
  it('reads long, short, inline and grouped flags among positionals', () => {
    expect(parse('a', '--output', 'json', '-r', 'dir', 'b', '-q')).toEqual({ positionals: ['a', 'b'], flags: { output: 'json', repo: 'dir', quiet: true } });
    expect(parse('--output=json', '-rdir').flags).toEqual({ output: 'json', repo: 'dir' });
    expect(parse('-o=json').flags).toEqual({ output: 'json' });
    expect(parse('-qo', 'table').flags).toEqual({ quiet: true, output: 'table' });
    expect(parse('--repo=').flags).toEqual({ repo: '' });
  });

  it('collects a list flag in order and keeps the last of a single-valued one', () => {
    expect(parse('--views', 'a', '--views=b', '--output', 'table', '--output', 'json').flags).toEqual({ views: ['a', 'b'], output: 'json' });
  });

  it('switches: bare, =true/=false, --no-<switch>, and a flag whose own name starts with no-', () => {
    expect(parse('--prune').flags).toEqual({ prune: true });
    expect(parse('--prune=false', '--quiet=true').flags).toEqual({ prune: false, quiet: true });
    expect(parse('--no-prune').flags).toEqual({ prune: false });
    expect(parse('--no-cache').flags).toEqual({ 'no-cache': true });
    expect(usageError('--prune=yes').message).toBe('--prune is a switch: expected no value, true or false, got "yes"');
    expect(usageError('--no-prune=true').message).toBe('--no-prune takes no value');
  });

  it('ends flags at --; a lone - is a positional', () => {
    expect(parse('-', '--', '--output', '-q')).toEqual({ positionals: ['-', '--output', '-q'], flags: {} });
  });

  it('names a flag missing its value, also when the next word is another flag', () => {
    expect(usageError('--repo').message).toBe('--repo needs a value (dir)');
    expect(usageError('--repo', '--quiet').message).toBe('--repo needs a value (dir)');
    expect(usageError('-r', '-q').message).toBe('--repo needs a value (dir)');
    expect(parse('--repo', '-').flags).toEqual({ repo: '-' });
  });

  it('checks choices', () => {
    expect(usageError('--output', 'xml').message).toBe('--output must be one of table, json; got "xml"');
    expect(usageError('-oxml').message).toBe('--output must be one of table, json; got "xml"');
  });

  it('names unknown flags and suggests the closest known one', () => {
    expect(usageError('--prunee').message).toBe('unknown option --prunee (did you mean --prune?)');
    expect(usageError('--ouptut', 'json').message).toBe('unknown option --ouptut (did you mean --output?)');
    expect(usageError('--frobnicate').message).toBe('unknown option --frobnicate');
    expect(usageError('-x').message).toBe('unknown option -x');
    expect(usageError('-qx').message).toBe('unknown option -x');
    // A negation of something that is not a switch is an unknown flag, not `--repo false`.
    expect(usageError('--no-repo').message).toBe('unknown option --no-repo');
    expect(usageError('--no-cach').message).toBe('unknown option --no-cach (did you mean --no-cache?)');
  });
});

describe('didYouMean', () => {
  it('offers the nearest name within two edits', () => {
    expect(didYouMean('quite', ['quiet', 'output'])).toBe(' (did you mean --quiet?)');
    expect(didYouMean('tls-cs', ['tls', 'tls-ca', 'tls-cert'])).toBe(' (did you mean --tls-ca?)');
    expect(didYouMean('zzzzzz', ['quiet', 'output'])).toBe('');
  });
});

describe('parseKeyValues', () => {
  it('splits at the first = and names the flag of a bad pair', () => {
    expect(parseKeyValues(['team=risk', 'expr=a=b'], 'tag')).toEqual({ team: 'risk', expr: 'a=b' });
    expect(parseKeyValues(undefined, 'tag')).toEqual({});
    expect(() => parseKeyValues(['=x'], 'tag', 'list')).toThrow('--tag expects key=value, got "=x"');
  });
});
