/**
 * How iPXE's shell reads a script line (core/exec.c), for asserting what a rendered script will execute: split on
 * whitespace, stop at a token starting with `#`, cut commands at tokens `&&`, `||`, `;`. Settings are not expanded.
 */
export interface ShellCommand {
  line: number;
  argv: string[];
}

export function commandsOf(script: string): ShellCommand[] {
  const out: ShellCommand[] = [];
  script.split('\n').forEach((text, i) => {
    if (text.startsWith(':')) return; // a label line
    let argv: string[] = [];
    for (const token of text.split(/[ \t\v\f\r]+/).filter(Boolean)) {
      if (token.startsWith('#')) break;
      if (token === '&&' || token === '||' || token === ';') {
        out.push({ line: i + 1, argv });
        argv = [];
        continue;
      }
      argv.push(token);
    }
    if (argv.length) out.push({ line: i + 1, argv });
  });
  return out;
}

/** The command names, in order: what changes if a value injects a command. */
export const commandNames = (script: string): string[] => commandsOf(script).map((c) => `${c.line}:${c.argv[0]}`);
