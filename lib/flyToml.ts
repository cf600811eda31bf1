// The few fly.toml settings Flightdeck itself needs before running flyctl: the release_command's
// timeout (it bounds a deploy) and a prebuilt `[build] image` (then nothing is built under our label).
// A line reader for top-level tables and `key = "value"` pairs, not a TOML parser: anything it does
// not understand is left to flyctl.

export interface FlyTomlSettings {
  /** [deploy] release_command */
  releaseCommand?: string;
  /** [deploy] release_command_timeout (a Go duration; flyctl's default is 5m) */
  releaseCommandTimeout?: string;
  /** [deploy] max_unavailable */
  maxUnavailable?: number;
  /** [build] image: a prebuilt image deployed instead of building */
  buildImage?: string;
}

export function readFlyTomlSettings(text: string): FlyTomlSettings {
  const settings: FlyTomlSettings = {};
  let table = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?$/.exec(line);
    if (header) {
      table = header[1]!;
      continue;
    }
    const pair = /^([A-Za-z0-9_]+)\s*=\s*(.+)$/.exec(line);
    if (!pair) continue;
    const [, key, value] = pair;
    const text = /^"(.*)"$|^'(.*)'$/.exec(value!);
    const string = text ? (text[1] ?? text[2]) : undefined;
    if (table === 'deploy' && key === 'release_command' && string !== undefined) settings.releaseCommand = string;
    if (table === 'deploy' && key === 'release_command_timeout' && string !== undefined) settings.releaseCommandTimeout = string;
    if (table === 'deploy' && key === 'max_unavailable' && Number.isFinite(Number(value))) settings.maxUnavailable = Number(value);
    if (table === 'build' && key === 'image' && string) settings.buildImage = string;
  }
  return settings;
}
