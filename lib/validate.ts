// Validators for inputs that become command arguments, workflow ids or URLs.
import { z } from 'zod';

/** Fly app names: lowercase letters, digits and dashes; no leading or trailing dash. */
export const flyAppName = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'a Fly app name: lowercase letters, digits and dashes, not starting or ending with a dash');

/** Flightdeck's own names (apps, environments, databases): the same rule, for workflow ids and Slack. */
export const resourceName = z.string().regex(/^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/, 'a name of lowercase letters, digits, dashes and underscores');

/** A git ref as git check-ref-format allows it, and never an option (no leading dash). */
export const gitRef = z.string().min(1).max(255).refine(isValidGitRef, 'a git branch, tag or ref (no spaces, "..", "~^:?*[\\", leading "-" or trailing ".lock")');

export const commitSha = z.string().regex(/^[0-9a-f]{7,64}$/, 'a hex commit sha of 7 to 64 characters');

/** An image reference such as registry.fly.io/app:deployment-123 or app@sha256:… */
export const imageRef = z.string().max(512).regex(/^[a-z0-9][a-z0-9._\-/:@]*$/i, 'an image reference like registry.fly.io/my-app:deployment-01HX');

/** Temporal duration strings accepted in config: 90s, 5m, 1h30m, 500ms. */
export const duration = z.string().regex(/^(\d+(ms|s|m|h|d))+$/, 'a duration like 30s, 5m or 1h30m');

/**
 * A duration handed to flyctl (--wait-timeout): whole units flyctl parses as Go durations and
 * Temporal and durationToMs read too. Go has no `d` unit, so `1d` is refused here, not by flyctl mid-deploy.
 */
export const flyDuration = z.string().regex(/^(\d+(ms|s|m|h))+$/, 'a duration flyctl accepts, like 30s, 5m or 1h30m (Go durations have no d unit: write 24h)');

export function isValidGitRef(ref: string): boolean {
  if (!ref || ref.length > 255 || ref.startsWith('-') || ref.startsWith('/') || ref.endsWith('/') || ref.endsWith('.') || ref.endsWith('.lock')) return false;
  if (ref.includes('..') || ref.includes('//') || ref.includes('@{')) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\x00-\x20\x7f~^:?*[\\]/.test(ref);
}

export { durationToMs } from './duration.js';
