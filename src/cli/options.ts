/** The config flags every command that reads the config takes: `-c FILE` and repeatable `--set key=value`. */
import type { Command } from 'commander';
import { type Config, loadConfig } from '../config/config.ts';

export interface ConfigFlags {
  config?: string;
  set?: string[];
}

export function withConfig(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (YAML); env BOOTHERD_CONFIG', process.env.BOOTHERD_CONFIG)
    .option('--set <key=value>', 'override a config value, e.g. --set http.port=8081 (repeatable)', collect, []);
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function config(opts: ConfigFlags): Config {
  return loadConfig(opts.config, process.env, opts.set ?? []);
}
