import { describe, expect, it } from 'vitest';
import {
  defaultMasker,
  defineConfig,
  InvalidOptionError,
  MASK,
  Masker,
  mask,
  maskError,
  StoreUnavailableError,
} from '../../src/index.ts';
import { APP_MASK, plantSecrets } from '../fixtures/mask-corpus.ts';

const corpus = plantSecrets(8080);
const app = new Masker(APP_MASK);

describe('masking secrets', () => {
  it(`masks every shape of the corpus (${corpus.length} of them)`, () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    for (const { kind, secret, text, url } of corpus) {
      for (const form of url ? [text, url] : [text]) {
        const masked = app.mask(form);
        expect({ kind, masked, leaked: masked.includes(secret) }).toMatchObject({ kind, leaked: false });
        expect(masked).toContain(MASK);
      }
    }
  });

  it('masks the app’s own shapes only with its rules and key', () => {
    const own = corpus.filter(({ kind }) => kind.startsWith('app '));
    expect(own).toHaveLength(3);
    for (const { secret, text } of own) expect(defaultMasker.mask(text)).toContain(secret);
  });

  it.each([
    ['password=', 'connecting with password=hunter2 now', 'connecting with password=[masked] now'],
    ['a longer key name', 'DB_PASSWORD=s3cr3t psql', 'DB_PASSWORD=[masked] psql'],
    ['a flag and its value', 'pg_dump --password hunter2 -Fc app', 'pg_dump --password [masked] -Fc app'],
    ['a flag with =', 'pg_dump --password=hunter2 -Fc app', 'pg_dump --password=[masked] -Fc app'],
    ['mysql -p', 'mysql -u root -phunter2 app', 'mysql -u root -p[masked] app'],
    ['sshpass -p', 'sshpass -p hunter2 ssh host', 'sshpass -p [masked] ssh host'],
    ['curl -u', 'curl -u admin:hunter2 https://x.test', 'curl -u admin:[masked] https://x.test'],
    ['MYSQL_PWD', 'MYSQL_PWD=hunter2 mysql', 'MYSQL_PWD=[masked] mysql'],
    ['JSON', '{"api_key": "k-123", "user": "ada"}', '{"api_key": "[masked]", "user": "ada"}'],
    ['a JSON passphrase', '{"passphrase": "open sesame"}', '{"passphrase": "[masked]"}'],
    [
      'JSON inside JSON text',
      '{"body":"{\\"token\\":\\"abc\\"}"}',
      '{"body":"{\\"token\\":\\"[masked]\\"}"}',
    ],
    ['a JWT', 'token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ', 'token: [masked]'],
    ['a Bearer header', 'Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer [masked]'],
    ['a hyphenated header', 'X-Api-Key: abc123secret', 'X-Api-Key: [masked]'],
    ['a cookie', 'Cookie: session=abc123', 'Cookie: [masked]'],
    ['a URL password', 'postgres://app:Hunter2Pass@db:5432/app', 'postgres://app:[masked]@db:5432/app'],
    ['a URL password without a user', 'redis://:hunter2@cache:6379', 'redis://:[masked]@cache:6379'],
    ['a URL password holding @', 'postgres://app:p@ss@db/app', 'postgres://app:[masked]@db/app'],
    [
      '?access_token=',
      'https://x.test/cb?access_token=abc&state=1',
      'https://x.test/cb?access_token=[masked]&state=1',
    ],
    ['?token= after https:', 'ping:https://x.test/feed?token=abc', 'ping:https://x.test/feed?token=[masked]'],
    [
      'sig=',
      'https://a.blob.core.windows.net/c?sv=2022&sig=abc%3D',
      'https://a.blob.core.windows.net/c?sv=2022&sig=[masked]',
    ],
    [
      'X-Amz-Signature=',
      'https://b.test/k?X-Amz-Signature=0a1b2c',
      'https://b.test/k?X-Amz-Signature=[masked]',
    ],
    ['an AWS access key id', 'id AKIAIOSFODNN7EXAMPLE used', 'id AKIA[masked] used'],
    ['a GitHub token', 'ghp_0123456789abcdefghijABCDEFGHIJ012345', 'ghp_[masked]'],
    ['a Slack token', 'xoxb-1234-5678-abcdefghij', 'xoxb-[masked]'],
    ['a Stripe key', 'sk_live_abcdefghij0123456789', 'sk_live_[masked]'],
    ['a Google API key', 'key=AIzaSyA-0123456789abcdefghijklmnopqrstu', 'key=AIza[masked]'],
    [
      'a private key',
      'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc==\n-----END RSA PRIVATE KEY-----\ndone',
      'key:\n-----BEGIN RSA PRIVATE KEY-----[masked]-----END RSA PRIVATE KEY-----\ndone',
    ],
    [
      'a private key cut short',
      'x -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE',
      'x -----BEGIN EC PRIVATE KEY-----[masked]',
    ],
    ['a long key-like string', 'key 9f8Tq2LmZ0xY4wV6uR3sP1oN7kJ5hG2d used', 'key [masked] used'],
    ['a known token whose run goes on', 'id AKIAIOSFODNN7EXAMPLEand0more', 'id AKIA[masked]'],
    ['a double-quoted value with spaces', 'password="correct horse battery" ok', 'password="[masked]" ok'],
    ['a single-quoted value with spaces', "secret: 'two words' ok", "secret: '[masked]' ok"],
    ['an unclosed quote', 'token="abc def', 'token="[masked] def'],
  ])('masks %s', (_kind, text, masked) => {
    expect(mask(text)).toBe(masked);
  });

  it.each([
    [
      'hashes, UUIDs and long names',
      'commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 job 123e4567-e89b-12d3-a456-426614174000 test_user_registration_flow_works_fine',
    ],
    ['ordinary output', 'Backed up 1234 rows to /var/backups/app-2026-11-23.dump in 3.2 s'],
    ['a port given as -p to other tools', 'psql -p5432 -h db && ssh -p 2222 host'],
    ['find’s -print and -path', 'find . -path ./x -prune -o -print'],
    ['the working directory', 'PWD=/home/app OLDPWD=/tmp'],
    ['words that merely hold a short name', 'signal=TERM bypass=1 author=ada'],
    ['times and ports', 'at 12:30:45 on 127.0.0.1:5432'],
    ['a stack frame', '    at Object.<anonymous> (/app/src/x.ts:10:5)'],
  ])('leaves %s alone', (_kind, text) => {
    expect(mask(text)).toBe(text);
  });

  it('masks what it has masked the same way again', () => {
    for (const { text } of corpus) expect(app.mask(app.mask(text))).toBe(app.mask(text));
  });

  it('masks the given values (a command’s environment) wherever they appear', () => {
    expect(defaultMasker.mask('using s3kr1t-value to connect', ['s3kr1t-value', 'ab'])).toBe(
      'using [masked] to connect',
    );
  });

  it('masks a thrown object described as JSON, line by line', () => {
    const text = JSON.stringify({
      detail: 'Cookie: session=a1\nSet-Cookie: sid=b2; Path=/\nmysql -pc3 db\nid AKIAIOSFODNN7EXAMPLE',
    });
    expect(mask(text)).toBe(
      '{"detail":"Cookie: [masked]\\nSet-Cookie: [masked]; Path=/\\nmysql -p[masked] db\\nid AKIA[masked]"}',
    );
  });

  it('finishes on a megabyte of text shaped against each rule', () => {
    const size = 1 << 20;
    const fill = (unit: string) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
    const adversarial = [
      'a',
      'a1',
      'a-',
      'eyJ-',
      'eyJabcde.',
      'a://',
      'x:',
      'k:',
      'a=b=',
      'p@',
      '-----BEGIN PRIVATE KEY-----',
      '-----BEGIN A A A A A A A A A A A A A A A A A A ',
      'password=',
      'password="',
      'password="\\',
      '--password ',
      '--a ',
      'Bearer ',
      'AKIA',
      'SG.aaaaaaaaaaaaaaaaaaaaaaa',
      'mysql ',
      ' -p',
      ' -u a',
      'discord.com/api/webhooks/1',
      'hooks.slack.com/services/',
      'token: "aaaa ',
      '\\n',
      '\\na:',
    ];
    const texts = [
      ...adversarial.map(fill),
      `mysql ${fill(' -p')}`,
      `curl ${fill(' -u a')}`,
      `http://u:${'p'.repeat(size)}`,
      `--a${' '.repeat(size)}`,
      `SG.${'a'.repeat(size)}`,
    ];
    for (const text of texts) expect(typeof app.mask(text)).toBe('string');
  });
});

describe('an app’s own rules', () => {
  it('masks every match of a RegExp, with or without the g flag, and what a function replaces', () => {
    const masker = new Masker({
      rules: [/acme-\d{4}/, (text) => text.replaceAll('internal.acme', '[host]')],
    });
    expect(masker.mask('acme-1234 and acme-5678 on internal.acme')).toBe('[masked] and [masked] on [host]');
  });

  it('masks the values of its keys, whatever their case and separators', () => {
    const masker = new Masker({ keys: ['acme_ticket'] });
    expect(masker.mask('X-Acme-Ticket: abc {"acmeTicket": "def"} --acme-ticket ghi')).toBe(
      'X-Acme-Ticket: [masked] {"acmeTicket": "[masked]"} --acme-ticket [masked]',
    );
  });

  it('adds keys with `withKeys` (a task runner’s secretKeys), keeping the rules', () => {
    const masker = new Masker({ rules: [/acme-\d{4}/] }).withKeys(['stripe_sk'], 'secretKeys');
    expect(masker.mask('acme-1234 stripe_sk=live_abc')).toBe('[masked] stripe_sk=[masked]');
    expect(() => masker.withKeys(['ok', '-'], 'secretKeys')).toThrow(
      expect.objectContaining({ field: 'secretKeys[1]', value: '-' }),
    );
  });

  it('withholds the whole text when a function rule throws or returns something else', () => {
    const throwing = new Masker({
      rules: [
        () => {
          throw new Error('broken rule');
        },
      ],
    });
    expect(throwing.mask('password=hunter2 and more')).toMatch(/^\[masked\] \(a mask rule .* threw/);
    const wrong = new Masker({ rules: [(() => 42) as unknown as (text: string) => string] });
    expect(wrong.mask('hunter2')).not.toContain('hunter2');
  });

  it.each([
    ['not an object', 'password', 'options.mask'],
    ['an unknown option', { rule: [] }, 'options.mask.rule'],
    ['rules that are not an array', { rules: /x/ }, 'options.mask.rules'],
    ['a rule that is neither RegExp nor function', { rules: [/x/, 'acme'] }, 'options.mask.rules[1]'],
    ['a RegExp that matches empty text', { rules: [/x*/g] }, 'options.mask.rules[0]'],
    ['keys that are not an array', { keys: 'token' }, 'options.mask.keys'],
    ['a key of one letter', { keys: ['ok', 'x'] }, 'options.mask.keys[1]'],
    ['a key with spaces', { keys: ['my key'] }, 'options.mask.keys[0]'],
  ])('refuses %s, naming the field', (_kind, options, field) => {
    const attempt = () => new Masker(options as never, 'options.mask');
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(expect.objectContaining({ code: 'SUNDIAL_INVALID_OPTION', field }));
  });

  it('is checked by defineConfig too', () => {
    expect(() => defineConfig({ mask: { keys: [''] } })).toThrow(
      expect.objectContaining({ field: 'mask.keys[0]', value: '' }),
    );
  });
});

describe('masking values and errors', () => {
  it('masks a JSON-like value, keeping its shape', () => {
    const value = {
      id: '42',
      payload: { token: 'abc', attempts: 3, nested: [{ password: 'hunter2' }, 'postgres://u:pw@db/x'] },
      lock: { token: 7 },
      at: new Date(0),
    };
    expect(defaultMasker.maskValue(value)).toEqual({
      id: '42',
      payload: { token: MASK, attempts: 3, nested: [{ password: MASK }, 'postgres://u:[masked]@db/x'] },
      lock: { token: 7 }, // a fencing token, not a secret
      at: '1970-01-01T00:00:00.000Z',
    });
  });

  it('masks an error’s message, stack and cause in a copy of the same class', () => {
    const original = new StoreUnavailableError(new Error('connect postgres://app:hunter2@db failed'));
    const masked = maskError(original) as StoreUnavailableError;
    expect(masked).toBeInstanceOf(StoreUnavailableError);
    expect(masked.code).toBe('SUNDIAL_STORE_UNAVAILABLE');
    expect(masked.message).toBe('The store cannot be reached: connect postgres://app:[masked]@db failed');
    expect(masked.stack).not.toContain('hunter2');
    expect((masked.cause as Error).message).toBe('connect postgres://app:[masked]@db failed');
    expect(original.message).toContain('hunter2'); // the thrower's own error is left as it was
    expect(maskError('password=hunter2')).toBe('password=[masked]');
    expect(maskError(42)).toBe(42);
  });

  it('masks the other properties a driver attaches to an error (what it sent, what it found)', () => {
    // As ioredis reports a failed command, and pg a constraint with the row's values.
    const reply = Object.assign(new Error('ERR something'), {
      command: { name: 'evalsha', args: ['sha', 'redis://:hunter2@h', 'password=hunter2'] },
    });
    const constraint = Object.assign(new Error('duplicate key'), { detail: 'Failing row: token=hunter2' });
    const masked = maskError(new StoreUnavailableError(reply)) as StoreUnavailableError;
    expect(JSON.stringify((masked.cause as { command: unknown }).command)).not.toContain('hunter2');
    expect((maskError(constraint) as { detail: string }).detail).not.toContain('hunter2');
    expect((masked.cause as { command: { name: string } }).command.name).toBe('evalsha');
  });

  it('leaves text alone where a rule of the app matches nothing but a position', () => {
    const masker = new Masker({ rules: [/\b/, /(?=x)/] });
    expect(masker.mask('a fox in a box')).toBe('a fox in a box');
  });
});
