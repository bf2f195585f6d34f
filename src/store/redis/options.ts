import type { RedisOptions } from 'ioredis';
import { InvalidOptionError } from '../../core/index.ts';
import type { RedisStoreOptions } from './redis-store.ts';

const OPTION_KEYS = ['url', 'cluster', 'client', 'prefix', 'onError', 'handoff'];
// No ':' (it separates the prefix from a queue name in `{prefix:queue}`, so prefixes `a` and `a:b`
// would share key names and patterns), no braces (hash tags), no glob characters (the pub/sub
// pattern), nothing a key or a CLIENT SETNAME would choke on.
const PREFIX = /^[A-Za-z0-9_.@/-]{1,100}$/;

export function checkOptions(options: RedisStoreOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('store', options, 'an object of Redis store options');
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const field = `store.${key}`;
    switch (key) {
      case 'url':
        if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) {
          throw new InvalidOptionError(field, value, 'a redis:// or rediss:// URL');
        }
        if (options.cluster !== undefined) {
          throw new InvalidOptionError(
            field,
            value,
            'not together with store.cluster (give the nodes there)',
          );
        }
        break;
      case 'cluster':
        if (!Array.isArray(value) || value.length === 0) {
          throw new InvalidOptionError(field, value, 'a list of redis:// URLs of Cluster nodes');
        }
        value.forEach((url: unknown, i) => {
          if (typeof url !== 'string' || !/^rediss?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
            throw new InvalidOptionError(
              `${field}[${i}]`,
              url,
              'a redis:// or rediss:// URL of a Cluster node',
            );
          }
          // A Cluster has database 0 only: a URL naming another would silently mean 0.
          if (!['', '/', '/0'].includes(new URL(url).pathname)) {
            throw new InvalidOptionError(
              `${field}[${i}]`,
              url,
              'a node URL without a database (a Cluster has only 0)',
            );
          }
        });
        break;
      case 'client':
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw new InvalidOptionError(field, value, 'an object of ioredis options');
        }
        // Keys are built inside the scripts from `prefix`; ioredis's own prefix would miss them.
        if ((value as RedisOptions).keyPrefix !== undefined) {
          throw new InvalidOptionError(
            `${field}.keyPrefix`,
            (value as RedisOptions).keyPrefix,
            'not supported: use store.prefix',
          );
        }
        // Replies are read in their RESP2 shapes.
        if (
          (value as RedisOptions).replyMapping !== undefined &&
          (value as RedisOptions).replyMapping !== 'legacy'
        ) {
          throw new InvalidOptionError(
            `${field}.replyMapping`,
            (value as RedisOptions).replyMapping,
            "only 'legacy' (the default)",
          );
        }
        break;
      case 'prefix':
        if (typeof value !== 'string' || !PREFIX.test(value)) {
          throw new InvalidOptionError(field, value, 'a name of 1 to 100 letters, digits or _ . @ / -');
        }
        break;
      case 'onError':
        if (typeof value !== 'function') throw new InvalidOptionError(field, value, 'a function');
        break;
      case 'handoff':
        if (typeof value !== 'boolean') throw new InvalidOptionError(field, value, 'true or false');
        break;
      default:
        throw new InvalidOptionError(
          field,
          value,
          `not a Redis store option; known: ${OPTION_KEYS.join(', ')}`,
        );
    }
  }
}
