import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import Table from 'cli-table3';
import { stringify as toYaml } from 'yaml';
import { loadEffectiveConfig, loadEffectiveStoreConfig, maskedConfig } from '../config-file.js';
import { ConfigError } from '../config.js';
import { FleetError, plannedRequests, runFleet, type FleetReport } from '../demo/fleet.js';
import { PATHS } from '../oauth/constants.js';
import { addIngestCommands } from './ingest.js';
import { OAuthError } from '../oauth/errors.js';
import { runMigrations } from './migrate.js';
import { REVOKE_DEVICE_HELP, revocationBody, revocationRequestOf, revokeDeviceDirect, type RevokeDeviceOptions } from './revoke-device.js';

/** Exit codes of every command (documented in --help and the README). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  runtime failure (server unreachable, request refused, Redis down)
  2  usage or configuration error`;

/** A failure with its exit code and a message for stderr. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

export interface CliIo {
  out(text: string): void;
  /** Resolves once the text has left the process (stdout to a pipe is asynchronous in Node); default: out. */
  outFlushed?(text: string): Promise<void>;
  err(text: string): void;
  env: NodeJS.ProcessEnv | Record<string, string | undefined>;
  /** Whether stderr is a terminal (progress bar). */
  isTty?: boolean;
}

export const DEFAULT_URL = 'http://127.0.0.1:3000';
export const INTROSPECT_PATH = '/oauth2/introspect'; // RFC 7662
export const adminRevokePath = (did: string): string => `/admin/devices/${encodeURIComponent(did)}/revoke`;

const wholeNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
};

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before base64. */
export function basicCredentials(clientId: string, clientSecret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

async function callServer(url: string, init: RequestInit): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const code = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError(`cannot reach assetgate at ${new URL(url).origin} (${code}): is it running? start it with \`assetgate serve\``);
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

const refused = (what: string, res: { status: number; json: Record<string, unknown>; text: string }): CliError => {
  const detail = res.json.error ? `${String(res.json.error)}${res.json.error_description ? `: ${String(res.json.error_description)}` : ''}` : res.text.slice(0, 200);
  return new CliError(`${what} failed: HTTP ${res.status}${detail ? ` (${detail})` : ''}`);
};

function summaryTable(report: FleetReport): string {
  const table = new Table({
    head: ['step', 'requests', 'failures', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  const ms = (v: number) => v.toFixed(1);
  for (const s of report.steps) table.push([s.step, s.requests, s.failures, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max)]);
  table.push(['total', report.requests, report.failures, '', '', '', '']);
  return table.toString();
}

/** The `assetgate` command line; `io` makes it testable in-process. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('assetgate');
  program
    .description('assetgate: OAuth 2.0 token exchange for device asset tokens (RFC 7523 / RFC 8693)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);

  const urlOption = () =>
    new Option('--url <url>', 'assetgate base URL (env ASSETGATE_URL)').default(io.env.ASSETGATE_URL || DEFAULT_URL, io.env.ASSETGATE_URL ? '$ASSETGATE_URL' : DEFAULT_URL);
  const configOption = () => new Option('-c, --config <file>', 'configuration file, JSON or YAML (env ASSETGATE_CONFIG)');
  // The keyspace tools (migrate, ingest, revoke-device --direct) read only the Redis settings: an operator's shell has no issuers.
  const storeConfigOf = (opts: { config?: string }) => loadEffectiveStoreConfig(io.env, { configFile: opts.config });

  program
    .command('serve')
    .description('run the server (configuration: environment variables over the optional file)')
    .addOption(configOption())
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts: { config?: string }) => {
      const { main } = await import('../server.js');
      await main(io.env as NodeJS.ProcessEnv, { configFile: opts.config });
    });

  program
    .command('migrate')
    .description('apply pending Redis keyspace migrations (REDIS_URL, REDIS_KEY_PREFIX)')
    .addOption(configOption())
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts: { config?: string }) => {
      const config = storeConfigOf(opts);
      for (const warning of config.warnings) io.err(`assetgate: warning: ${warning}\n`);
      try {
        io.out(`${await runMigrations(config)}\n`);
      } catch (err) {
        throw new CliError(`migrate failed: ${(err as Error).message}`);
      }
    });

  addIngestCommands(program, { out: io.out, outFlushed: io.outFlushed ?? (async (text) => io.out(text)), err: io.err, configOf: storeConfigOf, configOption, wholeNumber, exitCodesHelp: EXIT_CODES_HELP });

  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate the configuration and print the effective settings, secrets masked')
    .addOption(configOption())
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'yaml']).default('json'))
    .addHelpText('after', EXIT_CODES_HELP)
    .action((opts: { config?: string; format: 'json' | 'yaml' }) => {
      const effective = loadEffectiveConfig(io.env, { configFile: opts.config });
      for (const warning of effective.warnings) io.err(`assetgate: warning: ${warning}\n`);
      const masked = maskedConfig(effective);
      io.out(opts.format === 'yaml' ? toYaml(masked) : `${JSON.stringify(masked, null, 2)}\n`);
      io.err('configuration is valid\n');
    });

  const dev = program.command('dev').description('development helpers');
  dev
    .command('token')
    .description(
      'mint a development asset token from a running server\'s embedded development issuer\n' +
        `(POST ${PATHS.devIssuer}/asset-tokens; its signing key lives only in that server's memory)`,
    )
    .addOption(urlOption())
    .option('--did <did>', 'device id (default: a random UUID)')
    .option('--aid <aid>', 'asset id')
    .option('--aud <audience...>', 'audiences (default: the server\'s)')
    .option('--ttl <seconds>', 'lifetime in seconds', wholeNumber)
    .option('--json', 'print the whole response, not just the token')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts: { url: string; did?: string; aid?: string; aud?: string[]; ttl?: number; json?: boolean }) => {
      const body: Record<string, unknown> = {};
      if (opts.did) body.did = opts.did;
      if (opts.aid) body.aid = opts.aid;
      if (opts.aud) body.aud = opts.aud;
      if (opts.ttl) body.ttl = opts.ttl;
      const res = await callServer(`${opts.url.replace(/\/+$/, '')}${PATHS.devIssuer}/asset-tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status === 404) {
        throw new CliError(`${opts.url} has no development issuer: it runs with TRUSTED_ISSUERS set or in production, where tokens come from the real issuer`);
      }
      if (res.status !== 200) throw refused('minting', res);
      io.out(opts.json ? `${JSON.stringify(res.json, null, 2)}\n` : `${String(res.json.asset_token)}\n`);
    });

  program
    .command('introspect')
    .description(`ask the server about a token (RFC 7662: POST ${INTROSPECT_PATH} with HTTP Basic client credentials)`)
    .argument('<token>', 'access token or asset token')
    .addOption(urlOption())
    .option('--client-id <id>', 'introspection client id (env ASSETGATE_CLIENT_ID)')
    .option('--client-secret <secret>', 'introspection client secret (env ASSETGATE_CLIENT_SECRET; prefer the env)')
    .addHelpText('after', `\nThe client must be one the server knows: INTROSPECTION_CLIENTS, or introspection_clients in its configuration file.\n${EXIT_CODES_HELP}`)
    .action(async (token: string, opts: { url: string; clientId?: string; clientSecret?: string }) => {
      const id = opts.clientId ?? io.env.ASSETGATE_CLIENT_ID;
      const secret = opts.clientSecret ?? io.env.ASSETGATE_CLIENT_SECRET;
      if (!id || !secret) throw new CliError('introspection needs --client-id and --client-secret (or ASSETGATE_CLIENT_ID / ASSETGATE_CLIENT_SECRET)', EXIT.usage);
      const res = await callServer(`${opts.url.replace(/\/+$/, '')}${INTROSPECT_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicCredentials(id, secret), accept: 'application/json' },
        body: new URLSearchParams({ token }).toString(),
      });
      if (res.status !== 200) throw refused('introspection', res);
      io.out(`${JSON.stringify(res.json, null, 2)}\n`);
    });

  program
    .command('revoke-device')
    .description('revoke a device: end its sessions and refuse its older asset tokens (admin API, or --direct against Redis)')
    .argument('<did>', 'device id (the asset token\'s did)')
    .option('--issuer <iss>', 'the device\'s issuer, exactly as trusted (required when several issuers are trusted)')
    .option('--block-asset-tokens-before <when>', 'refuse the device\'s asset tokens issued before: now (default), none, or seconds since epoch')
    .option('--direct', 'write the revocation to Redis directly (REDIS_URL, REDIS_KEY_PREFIX) instead of calling the admin API')
    .addOption(configOption())
    .addOption(urlOption())
    .option('--admin-key <key>', 'admin API key (env ADMIN_API_KEY; prefer the env)')
    .addHelpText('after', `${REVOKE_DEVICE_HELP}\n${EXIT_CODES_HELP}`)
    .action(async (did: string, opts: RevokeDeviceOptions & { direct?: boolean; config?: string; url: string; adminKey?: string }) => {
      const request = revocationRequestOf(did, opts);
      if (opts.direct) {
        const result = await revokeDeviceDirect(storeConfigOf(opts), request).catch((err: unknown) => {
          if (err instanceof OAuthError) throw new CliError(err.description, EXIT.usage);
          throw err;
        });
        io.out(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const key = opts.adminKey ?? io.env.ADMIN_API_KEY;
      if (!key) throw new CliError('revoke-device needs --admin-key (or ADMIN_API_KEY), or --direct to write to Redis', EXIT.usage);
      const res = await callServer(`${opts.url.replace(/\/+$/, '')}${adminRevokePath(did)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify(revocationBody(request)),
      });
      if (res.status === 400) throw new CliError(refused('revocation', res).message, EXIT.usage);
      if (res.status < 200 || res.status > 299) throw refused('revocation', res);
      io.out(`${JSON.stringify(res.json, null, 2)}\n`);
    });

  program
    .command('demo')
    .description('drive a simulated fleet of devices through both sequences against a running server (development issuer)')
    .addOption(urlOption())
    .option('--devices <n>', 'devices (at most 1000)', wholeNumber, 20)
    .option('--events <n>', 'events per device and sequence (at most 100)', wholeNumber, 5)
    .option('--concurrency <n>', 'devices at a time (at most 64)', wholeNumber, 8)
    .option('--allow-remote', 'allow a server that is not on a loopback address')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts: { url: string; devices: number; events: number; concurrency: number; allowRemote?: boolean; progress: boolean }) => {
      const bar = opts.progress && io.isTty ? new SingleBar({ format: 'devices at work [{bar}] {percentage}% | {value}/{total} requests | {eta}s left', stream: process.stderr }, Presets.shades_classic) : undefined;
      bar?.start(plannedRequests(opts), 0);
      let report: FleetReport;
      try {
        report = await runFleet({ ...opts, allowRemote: opts.allowRemote ?? false, onRequest: () => bar?.increment() });
      } catch (err) {
        if (err instanceof FleetError) throw new CliError(err.message, EXIT.usage);
        throw err;
      } finally {
        bar?.stop();
      }
      io.out(`${report.devices.length} devices, ${report.requests} requests in ${report.seconds.toFixed(2)} s (${(report.requests / report.seconds).toFixed(0)} req/s)\n`);
      io.out(`${summaryTable(report)}\n`);
      for (const sample of report.failureSamples) io.err(`failure: ${sample}\n`);
      io.out(`watch it at ${opts.url.replace(/\/+$/, '')}/ (development mode)\n`);
      if (report.failures > 0) throw new CliError(`${report.failures} of ${report.requests} requests failed`);
    });

  return program;
}

/** Runs the CLI; resolves with the exit code (never calls process.exit itself). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0 in commander; every other parser stop is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ConfigError) {
      for (const problem of err.problems) io.err(`assetgate: configuration error: ${problem}\n`);
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      io.err(`assetgate: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`assetgate: ${(err as Error).message}\n`);
    return EXIT.failure;
  }
}
