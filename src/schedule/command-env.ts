/**
 * Which environment variables a command task may set. The allowlist (`allowedCommands`) names the
 * executables a task may run; a variable that makes any program load or run code of its choosing
 * would run that code inside an allowed executable, past the list. Names are compared in upper case
 * (Windows reads `Path` as `PATH`, and a refusal should not hinge on spelling).
 */

/**
 * Refused in every command task, allowlist or not: they run code before or beside the program, for
 * programs of a whole kind (everything dynamically linked, every bash or Node process), and a
 * scheduled command has no need of them. Program-specific hooks (`GIT_SSH_COMMAND`, `PAGER`, ...) are
 * not listed: allowing a program allows what it does with its own environment.
 */
const INJECTING_PREFIXES = [
  // The dynamic loader: LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH (a folder with its own libc) and the
  // rest; macOS's DYLD_INSERT_LIBRARIES and friends.
  'LD_',
  'DYLD_',
  // Bash imports exported functions from these, so `BASH_FUNC_pg_dump%%` would replace a command
  // of any bash script the task runs.
  'BASH_FUNC_',
  // Every Lua (LUA_INIT, LUA_INIT_5_4, ...) runs the code or file these name at start.
  'LUA_INIT',
];
const INJECTING_NAMES = new Set([
  // glibc: iconv loads the modules GCONV_PATH names; tunables have been a loader exploit before.
  'GCONV_PATH',
  'GLIBC_TUNABLES',
  // OpenSSL's config can load any shared object as an engine or provider into every program
  // linked with libssl or libcrypto (curl, psql, pg_dump, git); the others name where from.
  'OPENSSL_CONF',
  'OPENSSL_MODULES',
  'OPENSSL_ENGINES',
  // Kerberos's config names plugin modules to load, in every GSSAPI client (psql, curl).
  'KRB5_CONFIG',
  // Shells: a file sourced by every non-interactive bash (BASH_ENV), by sh in some modes (ENV), by
  // every zsh (ZDOTDIR/.zshenv); xtrace switched on from outside with a PS4 that runs a command.
  'BASH_ENV',
  'ENV',
  'ZDOTDIR',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  // Interpreters' startup options: --require / -M / -r / -javaagent load code into every run.
  'NODE_OPTIONS',
  'PERL5OPT',
  'RUBYOPT',
  'PYTHONSTARTUP',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  // PHP's ini files (auto_prepend_file runs code before every script).
  'PHPRC',
  'PHP_INI_SCAN_DIR',
]);

/**
 * Refused only with an allowlist, like PATH: they decide which file a name loads (the executable, a
 * module), which is what the allowlist pins down; without one a task may run anything anyway, and
 * a project's own PYTHONPATH or NODE_PATH is an everyday need.
 */
const SEARCH_PATHS = new Set([
  'PATH',
  'NODE_PATH',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONUSERBASE',
  'PERL5LIB',
  'PERLLIB',
  'RUBYLIB',
  'CLASSPATH',
  // Where start-up files are read from: zsh's .zshenv (without ZDOTDIR), Python's user site,
  // and many programs' rc files. Without an allowlist a task may set it: it can run anything anyway.
  'HOME',
]);

// Not refused: IFS. bash, dash, zsh and ksh set it afresh at start-up and ignore an inherited value,
// so it cannot turn a command line into another one.

/** Why a command task may never set `name`, or null when it may. */
export function injectingEnvReason(name: string): string | null {
  // Node writes `NAME=value` as given: a name holding `=` sets another variable (`LD_PRELOAD=/x.so:`
  // as a name sets LD_PRELOAD), and an empty name is no variable at all.
  if (name === '' || name.includes('=') || name.includes('\0')) {
    return 'not a variable name (one without "=" or NUL characters)';
  }
  const upper = name.toUpperCase();
  if (INJECTING_NAMES.has(upper) || INJECTING_PREFIXES.some((prefix) => upper.startsWith(prefix))) {
    return `refused in command tasks: ${upper} makes programs load or run code it names, past allowedCommands`;
  }
  return null;
}

/** Whether `name` chooses which file a name loads (PATH and the interpreters' module paths). */
export function isSearchPathEnv(name: string): boolean {
  return SEARCH_PATHS.has(name.toUpperCase());
}

/** The first variable of `env` a command task may not set, with why; null when all may be. */
export function refusedEnv(
  env: Record<string, string>,
  withAllowlist: boolean,
): { name: string; value: string; reason: string } | null {
  for (const [name, value] of Object.entries(env)) {
    const reason =
      injectingEnvReason(name) ??
      (withAllowlist && isSearchPathEnv(name)
        ? `refused with allowedCommands: ${name.toUpperCase()} decides which file a name loads`
        : null);
    if (reason) return { name, value, reason };
  }
  return null;
}
