import { describe, expect, it } from 'vitest';
import { LuaLibrary } from '../../../src/store/redis/lua-linker.ts';

const USED = `local PREFIX = ARGV[1]
local G = '{' .. PREFIX .. '}'

-- Says which key.
local function key(name) return G .. ':' .. name end

local seen, order = {}, {}
local function remember(name)
  -- A comment naming unused() pulls nothing in.
  if seen[name] then return end
  seen[name] = true
  order[#order + 1] = key(name)
end
`;
const UNUSED = `
-- Not used by the script below.
local function unused()
  return remember('x')
end
`;
const COUNT = `
local function count() return #order end`;
const LIBRARY = USED + UNUSED + COUNT;

describe('lua linker', () => {
  const library = new LuaLibrary(LIBRARY);

  it('gives a script the declarations it names and those they name, in the library order, with their comments', () => {
    expect(library.linkedFor("remember('a')\nreturn count()")).toBe(USED + COUNT);
  });

  it('pulls in one name of a declaration of several, and nothing for a name only in a comment', () => {
    expect(library.linkedFor('-- count() is not called\nreturn #order')).toBe('\nlocal seen, order = {}, {}');
  });

  it('gives nothing to a script that names none of it', () => {
    expect(library.linkedFor('return 1')).toBe('');
  });

  it('refuses a library with a top-level statement that is not a local declaration, first or later', () => {
    expect(() => new LuaLibrary('redis.call("PING")\nlocal x = 1')).toThrow(/expected a local declaration/);
    expect(() => new LuaLibrary('local x = 1\nredis.call("PING")')).toThrow(/found: redis\.call/);
    // A local without a value is not a form it knows: its name would never be linked.
    expect(() => new LuaLibrary('local x = 1\nlocal y')).toThrow(/found: local y/);
  });
});
